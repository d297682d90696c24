package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// cliBin is the runsc-harness binary the CLI tests drive, built once.
var cliBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runsc-harness-test-")
	if err != nil {
		panic(err)
	}
	cliBin = filepath.Join(dir, "runsc-harness")
	if out, err := exec.Command("go", "build", "-o", cliBin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("building runsc-harness: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCLI runs runsc-harness with args and extra environment and returns
// its stdout, stderr and exit code.
func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(cliBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running runsc-harness: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// copySeries copies the embedded series into a directory the test may edit.
func copySeries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, patches.FS); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBadInput(t *testing.T) {
	missing := copySeries(t)
	os.Remove(filepath.Join(missing, "core", "0002-pipe-restart-interrupted-fifo-open.patch"))

	drifted := copySeries(t)
	p := filepath.Join(drifted, "core", "0002-pipe-restart-interrupted-fifo-open.patch")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Change a context line, as an upstream edit next to the fix would.
	b = bytes.Replace(b, []byte(" \t\t\t\tfd.DecRef(ctx)\n"), []byte(" \t\t\t\tfd.DecRef(ctx) // moved\n"), 1)
	os.WriteFile(p, b, 0o644)

	noNet := []string{"GOPROXY=off", "GOMODCACHE=" + t.TempDir(), "GOFLAGS=-modcacherw"}
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     string // an exact line of stderr
	}{
		{
			name:     "unknown version",
			args:     []string{"build", "--gvisor", "v0.0.0-20990101000000-abcdefabcdef"},
			wantCode: 1,
			want:     "runsc-harness build: unknown gVisor version v0.0.0-20990101000000-abcdefabcdef (see `runsc-harness versions`)",
		},
		{
			name:     "date before the first snapshot",
			args:     []string{"build", "--gvisor", "2020-01-01"},
			wantCode: 1,
			want:     "runsc-harness build: no gVisor snapshot on or before 2020-01-01 (the first is 2024-04-23, v0.0.0-20240423190808-9d7a357edefe)",
		},
		{
			name:     "malformed date",
			args:     []string{"build", "--gvisor", "2026-5-18"},
			wantCode: 2,
			want:     `runsc-harness build: --gvisor: "2026-5-18" is not a module version, a date (YYYY-MM-DD) or "latest"`,
		},
		{
			name:     "unknown patch set",
			args:     []string{"build", "--sets", "core,extras"},
			wantCode: 2,
			want:     `runsc-harness build: --sets: unknown patch set "extras" (known: compat, core, parity)`,
		},
		{
			name:     "series map names a missing patch",
			args:     []string{"build", "--patches", missing},
			wantCode: 1,
			want:     `runsc-harness build: series.json: patch 2 ("0002"): patch file missing: open core/0002-pipe-restart-interrupted-fifo-open.patch: no such file or directory`,
		},
		{
			name:     "patch does not apply",
			args:     []string{"check", "--gvisor", "2026-05-18", "--patches", drifted},
			wantCode: 1,
			want:     "runsc-harness check: 1 problem(s) applying the series",
		},
		{
			name:     "no proxy and nothing cached",
			env:      noNet,
			args:     []string{"build"},
			wantCode: 1,
			want:     "runsc-harness build: cannot list gvisor.dev/gvisor versions: the module proxy is unreachable (GOPROXY has no proxy) and the module cache has none",
		},
		{
			name:     "unknown command",
			args:     []string{"frobnicate"},
			wantCode: 2,
			want:     "  versions   list gVisor snapshots and which patches of the series each needs",
		},
		{
			name:     "stray argument",
			args:     []string{"versions", "--no-patches", "extra"},
			wantCode: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.env, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			if tc.want != "" && !slices.Contains(strings.Split(stderr, "\n"), tc.want) {
				t.Errorf("stderr has no line\n  %q\nstderr:\n%s", tc.want, stderr)
			}
		})
	}

	t.Run("patch does not apply names patch and file", func(t *testing.T) {
		stdout, _, _ := runCLI(t, nil, "check", "--gvisor", "2026-05-18", "--patches", drifted)
		want := "FAILED: patch 0002 (0002-pipe-restart-interrupted-fifo-open.patch) does not apply to v0.0.0-20260518063529-209a0ce076a1: patch failed: pkg/sentry/kernel/pipe/vfs.go:"
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	})
}

func TestVersionsOffline(t *testing.T) {
	// With the proxy unreachable, the versions in the module cache are
	// listed, and the user is told. The test brings its own module cache:
	// listFromCache (internal/gvisor) lists the .zip files of
	// $GOMODCACHE/cache/download/gvisor.dev/gvisor/@v, so empty files with
	// those names are enough, and no other test or network is needed.
	modcache := t.TempDir()
	dl := filepath.Join(modcache, "cache", "download", "gvisor.dev", "gvisor", "@v")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{ // oldest first, as versions lists them
		"v0.0.0-20240423190808-9d7a357edefe 2024-04-23",
		"v0.0.0-20250205000000-0123456789ab 2025-02-05",
		"v0.0.0-20260518063529-209a0ce076a1 2026-05-18",
	}
	for _, name := range []string{
		"v0.0.0-20260518063529-209a0ce076a1.zip",
		"v0.0.0-20260518063529-209a0ce076a1.info", // not a zip: not listed twice
		"v0.0.0-20240423190808-9d7a357edefe.zip",
		"v0.0.0-20250205000000-0123456789ab.zip",
		"v1.0.0.zip", // not a pseudo-version: not a snapshot
		"list",
	} {
		if err := os.WriteFile(filepath.Join(dl, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GOPROXY=off", "GOMODCACHE=" + modcache, "GOFLAGS=-modcacherw"}
	stdout, stderr, code := runCLI(t, env, "versions", "--no-patches")
	if code != 0 {
		t.Fatalf("versions with GOPROXY=off: exit %d\n%s", code, stderr)
	}
	if note := "note: module proxy unreachable; using the 3 version(s) in the module cache"; !strings.Contains(stderr, note) {
		t.Errorf("stderr lacks %q:\n%s", note, stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] { // after the header
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	if !slices.Equal(got, want) {
		t.Errorf("versions listed:\n%s\nwant (version, date):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckEverySnapshot applies the series to all known snapshots without
// building them: every one must either apply or be upstream.
func TestCheckEverySnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads every gVisor snapshot")
	}
	stdout, stderr, code := runCLI(t, nil, "check")
	if code != 0 {
		t.Fatalf("check: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A compat column, one column per compat patch, then one per core
	// patch: the compat set is needed up to 2025-02-05; 0001 is fixed
	// upstream from 2026-05-27 on; every other core patch applies to every
	// snapshot.
	core := coreSeries(t)
	s, err := series.Load(patches.FS)
	if err != nil {
		t.Fatal(err)
	}
	compat := s.BaselinePatches()
	cols := []string{`(needed|not needed)`}
	for range len(compat) + len(core) {
		cols = append(cols, `(applied|already upstream)`)
	}
	rows := regexp.MustCompile(`(?m)^v0\.0\.0-\S+\s+\d{4}-\d\d-\d\d\s+`+strings.Join(cols, `\s+`)+`\s+ok$`).FindAllStringSubmatch(stdout, -1)
	if len(rows) < 12 {
		t.Fatalf("check reported %d good rows with %d patch columns, want at least 12:\n%s", len(rows), len(compat)+len(core), stdout)
	}
	needsCompat, affected := 0, 0
	for _, r := range rows {
		if r[1] == "needed" {
			needsCompat++
		}
		// A compat patch applies only where the compat set is needed,
		// and where it is needed at least one applies (the compat
		// patches have ranges of their own: 0203 ends at 2024-07-22).
		anyCompat := false
		for i, p := range compat {
			applied := r[2+i] == "applied"
			anyCompat = anyCompat || applied
			if applied && r[1] != "needed" {
				t.Errorf("compat patch %s applied in a row whose compat column says %q: %q", p.ID, r[1], r[0])
			}
		}
		if r[1] == "needed" && !anyCompat {
			t.Errorf("no compat patch applied in a row whose compat column says needed: %q", r[0])
		}
		c := 2 + len(compat)
		if r[c] == "applied" {
			affected++
		}
		for i, p := range core[1:] {
			if r[c+1+i] != "applied" {
				t.Errorf("patch %s not applied in row %q", p.ID, r[0])
			}
		}
	}
	if needsCompat != 5 {
		t.Errorf("%d snapshots need the compat set, want the 5 from 2024-04-23 to 2025-02-05", needsCompat)
	}
	if affected != 10 {
		t.Errorf("ConvertIntr patch applied to %d snapshots, want the 10 affected ones", affected)
	}
}

// coreSeries returns the core set of the committed series map.
func coreSeries(t *testing.T) []*series.Patch {
	t.Helper()
	s, err := series.Load(patches.FS)
	if err != nil {
		t.Fatal(err)
	}
	core, err := s.Select([]string{"core"})
	if err != nil {
		t.Fatal(err)
	}
	if len(core) < 2 || core[0].ID != "0001" {
		t.Fatalf("core set = %v, want 0001 first and at least two patches", core)
	}
	return core
}

// TestBuildStampsAndCaches builds stock and patched runsc for the default
// affected version (minutes when cold), checks their version stamps, and
// checks that a second identical build is served from the cache.
func TestBuildStampsAndCaches(t *testing.T) {
	if testing.Short() {
		t.Skip("builds runsc")
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, nil, "build", "--gvisor", "2026-05-18", "--out", out)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s\n%s", code, stdout, stderr)
	}
	version := func(bin string) string {
		b, err := exec.Command(filepath.Join(out, bin), "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", bin, err)
		}
		return string(b)
	}
	if got := version("runsc-stock"); !strings.HasPrefix(got, "runsc version v0.0.0-20260518063529-209a0ce076a1\n") {
		t.Errorf("stock --version = %q", got)
	}
	// The stamp names the series id and every core patch that applies to
	// 2026-05-18, which is all of them.
	s, err := series.Load(patches.FS)
	if err != nil {
		t.Fatal(err)
	}
	core := coreSeries(t)
	want := "runsc version v0.0.0-20260518063529-209a0ce076a1+" + s.ID(core)
	for _, p := range core {
		want += "." + p.ID
	}
	if got := version("runsc-patched"); !strings.HasPrefix(got, want+"\n") {
		t.Errorf("patched --version = %q, want prefix %q", got, want+"\n")
	}
	for _, want := range []string{filepath.Join(out, "runsc-stock"), filepath.Join(out, "runsc-patched")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("build output does not name %s:\n%s", want, stdout)
		}
	}

	start := time.Now()
	stdout, stderr, code = runCLI(t, nil, "build", "--gvisor", "2026-05-18", "--out", out)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("second build: exit %d\n%s", code, stderr)
	}
	// Stock, patched and the shim, each from the cache.
	if strings.Count(stdout, "(cached)") != 3 || strings.Contains(stderr, "still running") {
		t.Errorf("second build was not served from the cache:\n%s\n%s", stdout, stderr)
	}
	t.Logf("second identical build took %v", took)
	if took > 60*time.Second {
		t.Errorf("second identical build took %v", took)
	}
}
