package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e/docker"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/testrunsc"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// fakeGVisorVersion is the version of the fake gVisor module the fault
// tests build: tiny, so a build takes seconds, and served by a file://
// module proxy of the test's own.
const fakeGVisorVersion = "v0.0.0-20250101000000-0123456789ab"

// fakeGVisor is a gVisor-shaped module behind a private file:// proxy, with
// a private module cache, build cache and a one-patch series for it.
type fakeGVisor struct {
	proxy    string // the proxy directory
	modcache string
	cache    string // RESTARTSYS_CACHE
	series   string // --patches directory
	hang     string // while this file exists, the patched package's test hangs
}

// The fake runsc prints its stamped version and what pkg/a says; the
// series patches pkg/a from "bug" to "fixed"; pkg/a's test (run by the
// build on the patched tree) checks the fix, and hangs while f.hang exists
// so a test can kill the harness in the middle of a build.
var fakeGVisorFiles = map[string]string{
	"go.mod":                   "module gvisor.dev/gvisor\n\ngo 1.22\n",
	"runsc/main.go":            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"gvisor.dev/gvisor/pkg/a\"\n\t\"gvisor.dev/gvisor/runsc/version\"\n)\n\nfunc main() { fmt.Println(\"runsc version\", version.Version(), a.F()) }\n",
	"runsc/version/version.go": "package version\n\nvar version = \"VERSION_MISSING\"\n\n// Version is the stamped version.\nfunc Version() string { return version }\n",
	"pkg/a/a.go":               "package a\n\n// F says whether the bug is fixed.\nfunc F() string { return \"bug\" }\n",
	"pkg/a/a_test.go": `package a

import (
	"os"
	"testing"
	"time"
)

func TestF(t *testing.T) {
	if p := os.Getenv("RH_FAKE_HANG"); p != "" {
		for {
			if _, err := os.Stat(p); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if F() != "fixed" {
		t.Fatal(F())
	}
}
`,
}

const fakeSeriesMap = `{"name": "test", "module": "gvisor.dev/gvisor",
  "sets": {"core": "core"},
  "patches": [{"id": "0001", "file": "core/0001.patch", "set": "core", "summary": "fix",
    "affected": {"from": "v0.0.0-20240101000000-aaaaaaaaaaaa"},
    "detect": {"file": "pkg/a/a.go", "affected_if_contains": "return \"bug\""}}]}`

const fakeSeriesPatch = `Subject: [PATCH] a: fix

---
diff --git a/pkg/a/a.go b/pkg/a/a.go
--- a/pkg/a/a.go
+++ b/pkg/a/a.go
@@ -1,4 +1,4 @@
 package a
 
 // F says whether the bug is fixed.
-func F() string { return "bug" }
+func F() string { return "fixed" }
`

func newFakeGVisor(t *testing.T) *fakeGVisor {
	t.Helper()
	root := t.TempDir()
	f := &fakeGVisor{
		proxy:    filepath.Join(root, "proxy"),
		modcache: filepath.Join(root, "modcache"),
		cache:    filepath.Join(root, "cache"),
		series:   filepath.Join(root, "series"),
		hang:     filepath.Join(root, "hang"),
	}
	src := filepath.Join(root, "src")
	writeFiles(t, src, fakeGVisorFiles)
	writeFiles(t, f.series, map[string]string{"series.json": fakeSeriesMap, "core/0001.patch": fakeSeriesPatch})
	at := filepath.Join(f.proxy, "gvisor.dev", "gvisor", "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	v := fakeGVisorVersion
	writeFiles(t, at, map[string]string{
		"list":      v + "\n",
		v + ".info": `{"Version":"` + v + `","Time":"2025-01-01T00:00:00Z"}`,
		v + ".mod":  fakeGVisorFiles["go.mod"],
	})
	var zb bytes.Buffer
	if err := modzip.CreateFromDir(&zb, module.Version{Path: "gvisor.dev/gvisor", Version: v}, src); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(at, v+".zip"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// env is the environment of a harness run against the fake module.
func (f *fakeGVisor) env() []string {
	return []string{
		"GOPROXY=file://" + f.proxy, "GOSUMDB=off", "GONOSUMDB=*", "GONOSUMCHECK=1", "GOFLAGS=-modcacherw",
		"GOMODCACHE=" + f.modcache, "RESTARTSYS_CACHE=" + f.cache, "RH_FAKE_HANG=" + f.hang,
	}
}

// procsMentioning lists the ps lines that name s, as a person would check.
func procsMentioning(t *testing.T, s string) []string {
	t.Helper()
	ps, err := exec.Command("ps", "-eo", "pid,stat,args").Output()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(ps), "\n") {
		f := strings.Fields(line)
		if strings.Contains(line, s) && len(f) > 1 && !strings.HasPrefix(f[1], "Z") && !strings.Contains(line, "ps -eo") {
			out = append(out, line)
		}
	}
	return out
}

// waitFor polls cond every 50 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestKilledBuild SIGKILLs the harness in the middle of a build and checks
// that the build's processes died with it, that the killed build left no
// cache entry that a later build trusts, and that the next build removes
// the dead one's tree and produces correct binaries.
func TestKilledBuild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build's processes die with the harness only as root (PID namespace)")
	}
	tests := []struct {
		name string
		// inPhase reports that the build reached the phase to kill it in,
		// given the processes working in the build tree.
		inPhase func(cmdlines []string) bool
		// privateGOCACHE makes the first build compile the standard
		// library, so that the stock build lasts long enough to be killed.
		privateGOCACHE bool
		// stockCached says whether the killed build had finished stock.
		stockCached bool
	}{
		{
			name:           "while compiling stock",
			privateGOCACHE: true,
			inPhase: func(cmdlines []string) bool {
				for _, c := range cmdlines {
					if strings.Contains(c, "/compile ") || strings.Contains(c, "/compile\x00") {
						return true
					}
				}
				return false
			},
		},
		{
			name:        "while testing the patched packages",
			stockCached: true,
			inPhase: func(cmdlines []string) bool {
				for _, c := range cmdlines {
					if strings.Contains(c, "a.test") {
						return true
					}
				}
				return false
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGVisor(t)
			out := t.TempDir()
			if err := os.WriteFile(f.hang, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), f.env()...)
			if tc.privateGOCACHE {
				env = append(env, "GOCACHE="+t.TempDir())
			}
			cmd := exec.Command(cliBin, "build", "--no-boot-check", "--shim=false", "--gvisor", fakeGVisorVersion, "--patches", f.series, "--out", out)
			cmd.Env = env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tmpDir := filepath.Join(f.cache, "tmp")
			var working []int
			reached := waitFor(2*time.Minute, func() bool {
				working = build.ProcsIn(tmpDir)
				var cmdlines []string
				for _, pid := range working {
					b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
					cmdlines = append(cmdlines, string(b))
				}
				return tc.inPhase(cmdlines)
			})
			if !reached {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the build never reached the phase; stderr:\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			t.Logf("killed the harness with %d process(es) working in the build tree", len(working))

			// Every process of the killed build dies with it, at once.
			if !waitFor(5*time.Second, func() bool { return len(build.ProcsIn(tmpDir)) == 0 }) {
				t.Errorf("processes of the killed build still running: %v", procsMentioning(t, f.cache))
			}
			if left := procsMentioning(t, f.cache); len(left) > 0 {
				t.Errorf("ps still shows the killed build: %v", left)
			}
			// Nothing half-made is in the cache: only finished builds are
			// renamed into runsc/VERSION, and they carry a manifest.
			entries, _ := filepath.Glob(filepath.Join(f.cache, "runsc", fakeGVisorVersion, "*"))
			var names []string
			for _, e := range entries {
				names = append(names, filepath.Base(e))
				for _, need := range []string{"runsc", "manifest.json"} {
					if _, err := os.Stat(filepath.Join(e, need)); err != nil {
						t.Errorf("cache entry %s is incomplete: %v", e, err)
					}
				}
			}
			wantEntries := 0
			if tc.stockCached {
				wantEntries = 1
			}
			if len(names) != wantEntries || (wantEntries == 1 && !strings.HasPrefix(names[0], "stock-")) {
				t.Errorf("cache entries after the kill = %v, want %d stock entry", names, wantEntries)
			}
			stale, _ := filepath.Glob(filepath.Join(tmpDir, fakeGVisorVersion+".*"))
			if len(stale) != 1 {
				t.Fatalf("build trees after the kill = %v, want the killed build's", stale)
			}

			// The next build cleans up and is correct.
			os.Remove(f.hang)
			stdout, errOut, code := runCLI(t, f.env(), "build", "--no-boot-check", "--shim=false", "--gvisor", fakeGVisorVersion, "--patches", f.series, "--out", out)
			if code != 0 {
				t.Fatalf("build after the kill: exit %d\n%s\n%s", code, stdout, errOut)
			}
			if !strings.Contains(errOut, "removing unfinished build tree "+stale[0]) {
				t.Errorf("the next build did not say it removed %s:\n%s", stale[0], errOut)
			}
			if got := strings.Count(stdout, "(cached)"); (got == 1) != tc.stockCached || got > 1 {
				t.Errorf("%d binaries came from the cache, want stock only if it was finished:\n%s", got, stdout)
			}
			if ents, _ := os.ReadDir(tmpDir); len(ents) != 0 {
				t.Errorf("build trees left: %v", ents)
			}
			for bin, want := range map[string]string{
				"runsc-stock":   "runsc version " + fakeGVisorVersion + " bug",
				"runsc-patched": "runsc version " + fakeGVisorVersion + "+",
			} {
				got, err := exec.Command(filepath.Join(out, bin)).Output()
				if err != nil || !strings.HasPrefix(string(got), want) {
					t.Errorf("%s printed %q (%v), want %q...", bin, got, err, want)
				}
			}
			if got, _ := exec.Command(filepath.Join(out, "runsc-patched")).Output(); !strings.HasSuffix(strings.TrimSpace(string(got)), ".0001 fixed") {
				t.Errorf("patched runsc printed %q, want the patch applied", got)
			}
		})
	}
}

// TestKilledRun SIGKILLs the harness while a guest runs under runsc and
// checks that the next run removes what it left: the sandbox and gofer
// (found by ps naming the old state root), the container (runsc list), the
// state directory, and that nothing is mounted there.
func TestKilledRun(t *testing.T) {
	runsc := stockRunsc(t)
	tmp := t.TempDir() // the state bases go here (TMPDIR), away from other runs
	out := t.TempDir()
	env := append(os.Environ(), "TMPDIR="+tmp)
	// The native run sleeps until its 3 s deadline, then the runsc run
	// starts and sleeps; the harness is killed once the sandbox is up.
	cmd := exec.Command(cliBin, "run", "--guest", "tiny", "--runsc", "stock="+runsc, "--timeout", "3s",
		"--out", filepath.Join(out, "killed"), "--", "-sleep")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var base, root string
	up := waitFor(60*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(tmp, sandbox.StateBasePrefix+"*"))
		if len(m) != 1 {
			return false
		}
		base, root = m[0], filepath.Join(m[0], "stock")
		procs, _ := sandbox.Leftovers(root)
		for _, p := range procs {
			if strings.Contains(p.Cmdline, " boot ") {
				// Up, and its container saved in the state root.
				ids, _ := sandbox.Runtime{Runsc: runsc, StateRoot: root}.List(t.Context())
				return len(ids) == 1
			}
		}
		return false
	})
	if !up {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the sandbox never started")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The killed run left its sandbox behind: that is what the sweep is for.
	time.Sleep(200 * time.Millisecond)
	left := procsMentioning(t, base)
	if len(left) == 0 {
		t.Fatalf("killing the harness left nothing behind in %s; the test proves nothing", base)
	}
	ids, err := sandbox.Runtime{Runsc: runsc, StateRoot: root}.List(t.Context())
	if err != nil || len(ids) != 1 {
		t.Fatalf("runsc list after the kill = %v, %v; want the killed run's container", ids, err)
	}
	t.Logf("left by the killed run: container %v, processes:\n%s", ids, strings.Join(left, "\n"))

	// The next run sweeps it.
	next := exec.Command(cliBin, "run", "--guest", "tiny", "--runsc", "stock="+runsc, "--timeout", "60s",
		"--out", filepath.Join(out, "next"))
	next.Env = env
	var stderr bytes.Buffer
	next.Stderr = &stderr
	if err := next.Run(); err != nil {
		t.Fatalf("next run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "removed the state of a harness run that died: "+base) {
		t.Errorf("the next run did not report the sweep of %s:\n%s", base, stderr.String())
	}
	if left := procsMentioning(t, base); len(left) > 0 {
		t.Errorf("still running after the sweep: %v", left)
	}
	if _, err := os.Stat(base); !os.IsNotExist(err) {
		t.Errorf("state base %s still exists: %v", base, err)
	}
	// runsc itself finds no container in the old root.
	if ids, err := (sandbox.Runtime{Runsc: runsc, StateRoot: root}).List(t.Context()); err != nil || len(ids) != 0 {
		t.Errorf("runsc --root %s list = %v, %v; want nothing", root, ids, err)
	}
	os.RemoveAll(root) // runsc list may have made it again
	if m, err := sandbox.MountsUnder(tmp); err != nil || len(m) != 0 {
		t.Errorf("mounts under %s: %v, %v", tmp, m, err)
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, sandbox.StateBasePrefix+"*")); len(m) != 0 {
		t.Errorf("state bases left: %v", m)
	}
}

// TestRunscCrashAtStartCLI: a runsc that dies while starting the container
// fails the run, and the report names its exit status, its log directory
// and its last words.
func TestRunscCrashAtStartCLI(t *testing.T) {
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "runsc-crashes")
	// Management commands (list, kill, delete) work; run dies at once.
	script := "#!/bin/sh\nfor a; do case \"$a\" in\n  run) echo 'panic: runsc crashed at start (test)' >&2; exit 2;;\n  list|kill|delete) exit 0;;\nesac; done\nexit 0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	_, stderr, code := runCLI(t, []string{"TMPDIR=" + dir}, "run", "--guest", "tiny", "--runsc", "stock="+fake, "--timeout", "60s", "--out", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	logDir := filepath.Join(out, "logs", "tiny", "stock_systrap_none")
	want := "tiny under stock/systrap/none: FAILED: no report on stdout (EOF); exit status 2; logs in " + logDir +
		`; last output: stdout "", stderr "panic: runsc crashed at start (test)"`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks\n  %s\n%s", want, stderr)
	}
	d := readDoc(t, filepath.Join(out, "report.json"))
	for _, r := range d.Runs {
		if r.Variant == "stock/systrap/none" && (r.LogDir != logDir || !strings.Contains(r.Failure, "logs in "+logDir)) {
			t.Errorf("report run: log dir %q, failure %q; want %s named", r.LogDir, r.Failure, logDir)
		}
	}
	if b, err := os.ReadFile(filepath.Join(logDir, "stderr")); err != nil || !strings.Contains(string(b), "panic:") {
		t.Errorf("runsc's stderr not kept in the log directory: %q, %v", b, err)
	}
}

// TestBadInputFaults complements TestBadInput: broken module caches, a
// harness that is not root, unsupported flags and outputs that cannot be
// written, each with an exact line of stderr and its exit code.
func TestBadInputFaults(t *testing.T) {
	v := fakeGVisorVersion
	modDir := func(f *fakeGVisor) string { return filepath.Join(f.modcache, "gvisor.dev", "gvisor@"+v) }
	// download fills the fake's module cache, as an earlier build would.
	download := func(t *testing.T, f *fakeGVisor) {
		cmd := exec.Command("go", "mod", "download", "gvisor.dev/gvisor@"+v)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), f.env()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go mod download: %v\n%s", err, out)
		}
	}
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)

	// A copy of the harness that uid 65534 may execute.
	nobodyDir, err := os.MkdirTemp("", "rh-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(nobodyDir) })
	os.Chmod(nobodyDir, 0o755)
	nobodyBin := filepath.Join(nobodyDir, "runsc-harness")
	if b, err := os.ReadFile(cliBin); err == nil {
		os.WriteFile(nobodyBin, b, 0o755)
	}

	tests := []struct {
		name string
		// setup prepares the fake gVisor and returns the args and the
		// exact line of stderr expected.
		setup    func(t *testing.T, f *fakeGVisor) (args []string, want string)
		wantCode int
		nobody   bool // run as uid/gid 65534
		root     bool // needs root to set up
	}{
		{
			name: "truncated module zip in the proxy",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				zp := filepath.Join(f.proxy, "gvisor.dev", "gvisor", "@v", v+".zip")
				b, _ := os.ReadFile(zp)
				os.WriteFile(zp, b[:len(b)/2], 0o644)
				return []string{"build", "--no-boot-check", "--shim=false", "--gvisor", v, "--patches", f.series},
					"runsc-harness build: downloading gvisor.dev/gvisor@" + v + ": zip: not a valid zip file"
			},
			wantCode: 1,
		},
		{
			name: "edited file in the module cache",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				download(t, f)
				want, err := dirhashOf(modDir(f), v)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(modDir(f), "pkg", "a", "a.go"), []byte("package a\n\nfunc F() string { return \"fixed\" }\n"), 0o644)
				got, err := dirhashOf(modDir(f), v)
				if err != nil {
					t.Fatal(err)
				}
				return []string{"build", "--no-boot-check", "--shim=false", "--gvisor", v, "--patches", f.series},
					"runsc-harness build: module cache for gvisor.dev/gvisor@" + v + " is corrupt: " + modDir(f) + " hashes to " + got + ", want " + want + " (remove it with `go clean -modcache` and retry)"
			},
			wantCode: 1,
		},
		{
			name: "module cache unreadable",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				download(t, f)
				p := filepath.Join(modDir(f), "pkg", "a", "a.go")
				os.Remove(p)
				os.Symlink("/nonexistent", p) // unreadable even for root
				return []string{"build", "--no-boot-check", "--shim=false", "--gvisor", v, "--patches", f.series},
					"runsc-harness build: module cache for gvisor.dev/gvisor@" + v + " is unreadable: open " + p + ": no such file or directory"
			},
			wantCode: 1,
		},
		{
			name: "build output is a file",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"build", "--no-boot-check", "--shim=false", "--gvisor", v, "--patches", f.series, "--out", file},
					"runsc-harness build: --out " + file + ": not a directory"
			},
			wantCode: 2,
		},
		{
			name: "build output under /proc",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"build", "--no-boot-check", "--shim=false", "--gvisor", v, "--patches", f.series, "--out", "/proc/rh-out"},
					"runsc-harness build: --out: mkdir /proc/rh-out: no such file or directory"
			},
			wantCode: 2,
		},
		{
			name: "run output is a file",
			root: true,
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"run", "--guest", "tiny", "--native", "--out", filepath.Join(file, "out")},
					"runsc-harness run: mkdir " + file + ": not a directory"
			},
			wantCode: 1,
		},
		{
			name: "run: unsupported platform",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"run", "--guest", "tiny", "--runsc", "stock=" + cliBin, "--platform", "kvm"},
					`runsc-harness run: unknown platform "kvm" (want one of systrap, ptrace)`
			},
			wantCode: 2,
		},
		{
			name: "verify: unsupported platform",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"verify", "--platform", "kvm"}, `runsc-harness verify: --platform: unknown platform "kvm" (want one of systrap, ptrace)`
			},
			wantCode: 2,
		},
		{
			name: "soak: unsupported platform",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"soak", "--platform", "kvm"}, `runsc-harness soak: --platform: unknown platform "kvm" (want one of systrap, ptrace)`
			},
			wantCode: 2,
		},
		{
			name: "soak: unknown storm variant",
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"soak", "--variant", "pipes"}, `runsc-harness soak: --variant: unknown storm variant "pipes" (want sync-socket, exec-fifo or all)`
			},
			wantCode: 2,
		},
		{
			name:   "run: not root",
			nobody: true,
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"run", "--guest", "tiny", "--runsc", "stock=" + nobodyBin}, "runsc-harness run: must run as root (runsc needs it)"
			},
			wantCode: 1,
		},
		{
			name:   "verify: not root",
			nobody: true,
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"verify"}, "runsc-harness verify: must run as root (runsc needs it)"
			},
			wantCode: 1,
		},
		{
			name:   "soak: not root",
			nobody: true,
			setup: func(t *testing.T, f *fakeGVisor) ([]string, string) {
				return []string{"soak"}, "runsc-harness soak: must run as root (runsc needs it)"
			},
			wantCode: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.nobody || tc.root) && os.Geteuid() != 0 {
				t.Skip("needs root to set up")
			}
			f := newFakeGVisor(t)
			args, want := tc.setup(t, f)
			bin := cliBin
			if tc.nobody {
				bin = nobodyBin
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), f.env()...)
			if tc.nobody {
				cmd.Dir = "/"
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				cmd.Env = append(cmd.Env, "HOME=/nonexistent")
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			if !slices.Contains(strings.Split(stderr.String(), "\n"), want) {
				t.Errorf("stderr has no line\n  %q\nstderr:\n%s", want, stderr.String())
			}
		})
	}
}

// dirhashOf is the go.sum hash of a module directory.
func dirhashOf(dir, version string) (string, error) {
	return dirhash.HashDir(dir, "gvisor.dev/gvisor@"+version, dirhash.Hash1)
}

// TestConcurrentBuilds starts two builds of the same version at once on a
// fresh cache: the second waits for the first's lock, then takes its
// result, and both report the same binaries.
func TestConcurrentBuilds(t *testing.T) {
	f := newFakeGVisor(t)
	// The first build holds its lock (in the patched package's test) until
	// the second has said it waits.
	if err := os.WriteFile(f.hang, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		stdout bytes.Buffer
		stderr lockedWriter
		err    error
	}
	start := func() (*exec.Cmd, *result, chan struct{}) {
		r := &result{}
		cmd := exec.Command(cliBin, "build", "--no-boot-check", "--shim=false", "--gvisor", fakeGVisorVersion, "--patches", f.series, "--json")
		cmd.Env = append(os.Environ(), f.env()...)
		cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
		done := make(chan struct{})
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { r.err = cmd.Wait(); close(done) }()
		return cmd, r, done
	}
	first, r1, done1 := start()
	defer first.Process.Kill()
	// Wait until the first build holds the lock and is busy.
	if !waitFor(2*time.Minute, func() bool { return len(build.ProcsIn(filepath.Join(f.cache, "tmp"))) > 0 }) {
		t.Fatal("the first build never started")
	}
	second, r2, done2 := start()
	defer second.Process.Kill()
	const waiting = "waiting for another build of the same version"
	if !waitFor(time.Minute, func() bool { return strings.Contains(r2.stderr.String(), waiting) }) {
		t.Fatalf("the second build did not wait for the first:\n%s", r2.stderr.String())
	}
	os.Remove(f.hang)
	for _, d := range []chan struct{}{done1, done2} {
		select {
		case <-d:
		case <-time.After(2 * time.Minute):
			t.Fatal("a build did not finish")
		}
	}
	var res [2]build.Result
	for i, r := range []*result{r1, r2} {
		if r.err != nil {
			t.Fatalf("build %d: %v\n%s", i+1, r.err, r.stderr.String())
		}
		if err := json.Unmarshal(r.stdout.Bytes(), &res[i]); err != nil {
			t.Fatalf("build %d output: %v\n%s", i+1, err, r.stdout.String())
		}
	}
	if res[0].Stock.Path != res[1].Stock.Path || res[0].Patched.Path != res[1].Patched.Path {
		t.Errorf("the builds report different binaries:\n%+v\n%+v", res[0], res[1])
	}
	if res[0].Stock.Cached || res[0].Patched.Cached || !res[1].Stock.Cached || !res[1].Patched.Cached {
		t.Errorf("want the first to build and the second to take its result: first %+v, second %+v", res[0], res[1])
	}
	if strings.Contains(r1.stderr.String(), waiting) {
		t.Errorf("the first build waited too:\n%s", r1.stderr.String())
	}
}

// lockedWriter is a buffer that may be read while a process writes it.
type lockedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// TestConcurrentRuns runs two harness runs at once with state bases in the
// same directory: the second's sweep leaves the first's live sandbox alone,
// both finish as they should, and nothing is left afterwards.
func TestConcurrentRuns(t *testing.T) {
	runsc := stockRunsc(t)
	tmp := t.TempDir()
	out := t.TempDir()
	env := append(os.Environ(), "TMPDIR="+tmp)
	// The first hangs under runsc until its 8 s deadline.
	first := exec.Command(cliBin, "run", "--guest", "tiny", "--runsc", "stock="+runsc, "--timeout", "8s",
		"--out", filepath.Join(out, "first"), "--", "-sleep")
	first.Env = env
	first.Stderr = &lockedWriter{}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	defer first.Process.Kill()
	var root string
	if !waitFor(time.Minute, func() bool {
		m, _ := filepath.Glob(filepath.Join(tmp, sandbox.StateBasePrefix+"*", "stock"))
		if len(m) != 1 {
			return false
		}
		root = m[0]
		ids, _ := sandbox.Runtime{Runsc: runsc, StateRoot: root}.List(t.Context())
		return len(ids) == 1
	}) {
		t.Fatal("the first run's sandbox never came up")
	}
	sentry := func() bool {
		procs, _ := sandbox.Leftovers(root)
		for _, p := range procs {
			if strings.Contains(p.Cmdline, " boot ") {
				return true
			}
		}
		return false
	}
	// The second runs to completion meanwhile.
	_, stderr2, code := runCLI(t, []string{"TMPDIR=" + tmp}, "run", "--guest", "tiny", "--runsc", "stock="+runsc,
		"--timeout", "60s", "--out", filepath.Join(out, "second"))
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr2)
	}
	if strings.Contains(stderr2, "removed the state") || strings.Contains(stderr2, "cleaning up state") {
		t.Errorf("the second run swept the first's live state:\n%s", stderr2)
	}
	if !sentry() {
		t.Error("the first run's sandbox died while the second ran")
	}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("first run: %v, want exit 1 (its guest hangs)", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the first run did not finish")
	}
	d := readDoc(t, filepath.Join(out, "first", "report.json"))
	for _, r := range d.Runs {
		if !strings.Contains(r.Failure, "killed at its deadline") {
			t.Errorf("first run %s: failure %q, want its own deadline kill", r.Variant, r.Failure)
		}
	}
	if left := procsMentioning(t, tmp); len(left) > 0 {
		t.Errorf("left running: %v", left)
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, sandbox.StateBasePrefix+"*")); len(m) != 0 {
		t.Errorf("state bases left: %v", m)
	}
}

// TestKilledE2EDocker SIGKILLs the harness while `e2e docker` runs its
// Docker-in-Docker container (host dockerd, its containerd and shim, the
// runsc sandbox, the inner dockerd) and checks that the kernel took every
// process with it (the daemon's PID namespace dies with the harness), that
// nothing is mounted under the state base, and that the next run removes
// the state base and the cgroups the killed daemon left.
func TestKilledE2EDocker(t *testing.T) {
	if err := sandbox.CheckRoot(); err != nil {
		t.Fatal(err) // CI runs as root: this test must not skip there
	}
	if err := docker.CheckHost(); err != nil {
		t.Fatal(err)
	}
	runsc := testrunsc.Stock(t)
	tmp := t.TempDir() // the state bases go here (TMPDIR), away from other runs
	out := t.TempDir()
	env := append(os.Environ(), "TMPDIR="+tmp)
	cmd := exec.Command(cliBin, "e2e", "docker", "--runsc", "stock="+runsc, "--modes", "plain", "--execs", "500",
		"--no-verdict", "--out", filepath.Join(out, "killed"))
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Killed once the inner dockerd of the Docker-in-Docker container
	// (under runsc) is up and the execs have started.
	inner := filepath.Join(out, "killed", "logs", "stock", "dockerd.log")
	up := waitFor(5*time.Minute, func() bool {
		b, _ := os.ReadFile(inner)
		return bytes.Contains(b, []byte("API listen on"))
	})
	if !up {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the inner dockerd never started (%s)", inner)
	}
	time.Sleep(3 * time.Second)
	m, _ := filepath.Glob(filepath.Join(tmp, sandbox.StateBasePrefix+"*"))
	if len(m) != 1 {
		t.Fatalf("state bases under %s: %v, want one", tmp, m)
	}
	base := m[0]
	before := procsMentioning(t, base)
	if len(before) < 3 {
		t.Fatalf("before the kill, only %d processes name %s; the test proves nothing:\n%s", len(before), base, strings.Join(before, "\n"))
	}
	t.Logf("running before the kill:\n%s", strings.Join(before, "\n"))
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !waitFor(15*time.Second, func() bool { return len(procsMentioning(t, base)) == 0 }) {
		t.Errorf("15 s after the kill, still running: %v", procsMentioning(t, base))
	}
	if m, err := sandbox.MountsUnder(tmp); err != nil || len(m) != 0 {
		t.Errorf("mounts under %s after the kill: %v, %v", tmp, m, err)
	}
	// The next run sweeps the dead run's state base and cgroups.
	next := exec.Command(cliBin, "e2e", "docker", "--runsc", "stock="+runsc, "--modes", "plain", "--execs", "1",
		"--no-verdict", "--out", filepath.Join(out, "next"))
	next.Env = env
	var stderr bytes.Buffer
	next.Stderr = &stderr
	if err := next.Run(); err != nil {
		t.Fatalf("next run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "removed the state of a harness run that died: "+base) {
		t.Errorf("the next run did not report the sweep of %s:\n%s", base, stderr.String())
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, sandbox.StateBasePrefix+"*")); len(m) != 0 {
		t.Errorf("state bases left: %v", m)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/" + docker.CgroupPrefix + filepath.Base(base) + "*"); len(m) != 0 {
		t.Errorf("cgroups of the killed daemon left: %v", m)
	}
	if left := procsMentioning(t, tmp); len(left) > 0 {
		t.Errorf("processes left under %s: %v", tmp, left)
	}
}
