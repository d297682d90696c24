package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"golang.org/x/mod/module"
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
			cmd := exec.Command(cliBin, "build", "--gvisor", fakeGVisorVersion, "--patches", f.series, "--out", out)
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
			stdout, errOut, code := runCLI(t, f.env(), "build", "--gvisor", fakeGVisorVersion, "--patches", f.series, "--out", out)
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
