package build

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/sys/unix"
)

const fakeVersion = "v0.0.0-20260518063529-209a0ce076a1"

// fixPatch changes pkg/a's answer from "bug" to "fixed" and adds a test.
const fixPatch = `Subject: [PATCH] a: fix

---
diff --git a/pkg/a/a.go b/pkg/a/a.go
--- a/pkg/a/a.go
+++ b/pkg/a/a.go
@@ -1,3 +1,3 @@
 package a
 
-func F() string { return "bug" }
+func F() string { return "fixed" }
diff --git a/pkg/a/a_test.go b/pkg/a/a_test.go
new file mode 100644
--- /dev/null
+++ b/pkg/a/a_test.go
@@ -0,0 +1,9 @@
+package a
+
+import "testing"
+
+func TestF(t *testing.T) {
+	if F() != WANT {
+		t.Fatal(F())
+	}
+}
`

func testSeries(t *testing.T, want string) *series.Series {
	t.Helper()
	fsys := fstest.MapFS{
		"series.json": {Data: []byte(`{"name": "test", "module": "gvisor.dev/gvisor",
  "sets": {"core": "core"},
  "patches": [{"id": "0001", "file": "core/0001.patch", "set": "core", "summary": "fix",
    "affected": {"from": "v0.0.0-20240101000000-aaaaaaaaaaaa"},
    "detect": {"file": "pkg/a/a.go", "affected_if_contains": "return \"bug\""}}]}`)},
		"core/0001.patch": {Data: []byte(strings.Replace(fixPatch, "WANT", want, 1))},
	}
	s, err := series.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeModule writes a tiny module shaped like gVisor: a runsc command that
// prints its stamped version and what pkg/a says.
func fakeModule(t *testing.T, body string) *gvisor.Module {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gvisor.dev", "gvisor@"+fakeVersion)
	files := map[string]string{
		"go.mod":                     "module gvisor.dev/gvisor\n\ngo 1.22\n",
		"runsc/main.go":              "package main\n\nimport (\n\t\"fmt\"\n\n\t\"gvisor.dev/gvisor/pkg/a\"\n\t\"gvisor.dev/gvisor/runsc/version\"\n)\n\nfunc main() { fmt.Println(\"runsc version\", version.Version(), a.F()) }\n",
		"runsc/version/version.go":   "package version\n\nvar version = \"VERSION_MISSING\"\n\nfunc Version() string { return version }\n",
		"pkg/a/a.go":                 "package a\n\nfunc F() string { return " + body + " }\n",
		"pkg/unrelated/unrelated.go": "package unrelated\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := dirhash.HashDir(dir, gvisor.ModulePath+"@"+fakeVersion, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return &gvisor.Module{Version: fakeVersion, Dir: dir, Sum: sum}
}

func options(t *testing.T, cache string, mod *gvisor.Module, s *series.Series) Options {
	return Options{
		Version:  fakeVersion,
		Series:   s,
		CacheDir: cache,
		Download: func(context.Context, string) (*gvisor.Module, error) {
			if err := mod.Verify(); err != nil {
				return nil, err
			}
			return mod, nil
		},
	}
}

func runBinary(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func mtime(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime().UnixNano()
}

func TestBuildAndCache(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	mod := fakeModule(t, `"bug"`)
	s := testSeries(t, `"fixed"`)
	// A tree left by a build that was killed must be swept.
	stale := filepath.Join(cache, "tmp", fakeVersion+".killed")
	if err := os.MkdirAll(filepath.Join(stale, "src"), 0o755); err != nil {
		t.Fatal(err)
	}

	res, err := Build(ctx, options(t, cache, mod, s))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if res.Stock.Cached || res.Patched.Cached {
		t.Errorf("first build came from the cache: %+v", res)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale build tree %s was not removed", stale)
	}
	if got, want := runBinary(t, res.Stock.Path), "runsc version "+fakeVersion+" bug"; got != want {
		t.Errorf("stock runsc says %q, want %q", got, want)
	}
	wantStamp := fakeVersion + "+" + s.ID(s.Patches) + ".0001"
	if got, want := runBinary(t, res.Patched.Path), "runsc version "+wantStamp+" fixed"; got != want {
		t.Errorf("patched runsc says %q, want %q", got, want)
	}
	if res.Patched.Stamp != wantStamp {
		t.Errorf("patched stamp = %q, want %q", res.Patched.Stamp, wantStamp)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) != 0 {
		t.Errorf("build left %d entries in the cache's tmp dir", len(ents))
	}

	// The same inputs again: nothing is rebuilt.
	stockM, patchedM := mtime(t, res.Stock.Path), mtime(t, res.Patched.Path)
	again, err := Build(ctx, options(t, cache, mod, s))
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if !again.Stock.Cached || !again.Patched.Cached || again.Patched.Path != res.Patched.Path {
		t.Errorf("second build was not served from the cache: %+v", again)
	}
	if mtime(t, res.Stock.Path) != stockM || mtime(t, res.Patched.Path) != patchedM {
		t.Error("second build rewrote a cached binary")
	}

	// A changed series rebuilds the patched runsc only.
	s2 := testSeries(t, `"fixed" /* same fix, another patch file */`)
	third, err := Build(ctx, options(t, cache, mod, s2))
	if err != nil {
		t.Fatalf("Build with another series: %v", err)
	}
	if !third.Stock.Cached || third.Patched.Cached || third.Patched.Path == res.Patched.Path {
		t.Errorf("series change: stock cached=%v, patched cached=%v path=%s", third.Stock.Cached, third.Patched.Cached, third.Patched.Path)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	t.Run("patch does not apply", func(t *testing.T) {
		cache := t.TempDir()
		mod := fakeModule(t, `"bug" /* drifted */`)
		_, err := Build(ctx, options(t, cache, mod, testSeries(t, `"fixed"`)))
		var ae *series.ApplyError
		if !errors.As(err, &ae) {
			t.Fatalf("Build error = %v, want *series.ApplyError", err)
		}
		want := "patch 0001 (0001.patch) does not apply to " + fakeVersion + ": patch failed: pkg/a/a.go:1; pkg/a/a.go: patch does not apply"
		if err.Error() != want {
			t.Errorf("error = %q\nwant    %q", err, want)
		}
		assertNothingCached(t, cache)
	})
	t.Run("patched tests fail", func(t *testing.T) {
		cache := t.TempDir()
		mod := fakeModule(t, `"bug"`)
		_, err := Build(ctx, options(t, cache, mod, testSeries(t, `"something else"`)))
		if err == nil || !strings.Contains(err.Error(), "patched gVisor packages fail their tests") || !strings.Contains(err.Error(), "FAIL") {
			t.Fatalf("Build error = %v, want a test failure with go test's output", err)
		}
		if m, _ := filepath.Glob(filepath.Join(cache, "runsc", fakeVersion, "patched-*")); len(m) != 0 {
			t.Errorf("a patched build whose tests failed was cached: %v", m)
		}
	})
	t.Run("corrupt module cache", func(t *testing.T) {
		cache := t.TempDir()
		mod := fakeModule(t, `"bug"`)
		f := filepath.Join(mod.Dir, "pkg/a/a.go")
		os.Chmod(f, 0o644)
		os.WriteFile(f, []byte("package a\n"), 0o644)
		_, err := Build(ctx, options(t, cache, mod, testSeries(t, `"fixed"`)))
		if err == nil || !strings.Contains(err.Error(), "is corrupt") {
			t.Fatalf("Build error = %v, want corrupt module cache", err)
		}
		assertNothingCached(t, cache)
	})
	t.Run("unknown set", func(t *testing.T) {
		opts := options(t, t.TempDir(), fakeModule(t, `"bug"`), testSeries(t, `"fixed"`))
		opts.Sets = []string{"parity"}
		if _, err := Build(ctx, opts); err == nil || !strings.Contains(err.Error(), `unknown patch set "parity"`) {
			t.Fatalf("Build error = %v", err)
		}
	})
	t.Run("cache not writable", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o644)
		_, err := Build(ctx, options(t, filepath.Join(file, "cache"), fakeModule(t, `"bug"`), testSeries(t, `"fixed"`)))
		if err == nil || !strings.Contains(err.Error(), "cache directory") {
			t.Fatalf("Build error = %v, want a cache directory error", err)
		}
	})
}

func assertNothingCached(t *testing.T, cache string) {
	t.Helper()
	if m, _ := filepath.Glob(filepath.Join(cache, "runsc", "*", "*")); len(m) != 0 {
		t.Errorf("failed build left cache entries: %v", m)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) != 0 {
		t.Errorf("failed build left %d temporary trees", len(ents))
	}
}

func TestInstallIsAtomic(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("new"), 0o755)
	dst := filepath.Join(dir, "out", "runsc-patched")
	if err := Install(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("installed %q", b)
	}
	if _, err := os.Stat(dst + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Error("Install left its temporary file")
	}
}

func TestBuildStockOnly(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	mod := fakeModule(t, `"bug"`)
	o := options(t, cache, mod, testSeries(t, `"fixed"`))
	o.StockOnly = true
	res, err := Build(ctx, o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if res.Stock.Cached || res.Patched.Path != "" {
		t.Errorf("StockOnly build: %+v, want a fresh stock runsc and no patched one", res)
	}
	if got, want := runBinary(t, res.Stock.Path), "runsc version "+fakeVersion+" bug"; got != want {
		t.Errorf("stock runsc says %q, want %q", got, want)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "runsc", fakeVersion, "patched-*")); len(m) != 0 {
		t.Errorf("StockOnly built a patched runsc: %v", m)
	}
	// Cached: served without the version's lock, even while another run
	// holds it (building that version's patched runsc, say).
	lock, err := os.OpenFile(filepath.Join(cache, "locks", fakeVersion+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	for {
		err := unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	again, err := Build(tctx, o)
	if err != nil {
		t.Fatalf("StockOnly Build while the lock is held: %v", err)
	}
	if !again.Stock.Cached || again.Stock.Path != res.Stock.Path {
		t.Errorf("second StockOnly build: %+v, want the cached stock runsc", again)
	}
}

// TestDeferredTests: with DeferTests, Build hands back a patched runsc that
// runs before the patched packages' tests are done; Finish caches it only
// if they pass, and a failing test leaves nothing cached or behind.
func TestDeferredTests(t *testing.T) {
	ctx := context.Background()
	mod := fakeModule(t, `"bug"`)
	for _, tc := range []struct {
		name, want string
		pass       bool
	}{
		{"tests pass", `"fixed"`, true},
		{"tests fail", `"something else"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			o := options(t, cache, mod, testSeries(t, tc.want))
			o.DeferTests = true
			res, err := Build(ctx, o)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if !strings.HasPrefix(res.Patched.Path, filepath.Join(cache, "tmp")+"/") {
				t.Errorf("before Finish, the patched runsc is %s, want it in the build's temporary tree", res.Patched.Path)
			}
			if got := runBinary(t, res.Patched.Path); !strings.HasSuffix(got, " fixed") {
				t.Errorf("patched runsc says %q before Finish", got)
			}
			err = res.Finish()
			if tc.pass {
				if err != nil {
					t.Fatalf("Finish: %v", err)
				}
				if !strings.HasPrefix(res.Patched.Path, filepath.Join(cache, "runsc")+"/") {
					t.Errorf("after Finish, the patched runsc is %s, want it in the cache", res.Patched.Path)
				}
				runBinary(t, res.Patched.Path)
			} else {
				if err == nil || !strings.Contains(err.Error(), "patched gVisor packages fail their tests") {
					t.Fatalf("Finish = %v, want the failing tests", err)
				}
				if res.Patched.Path != "" {
					t.Errorf("a patched runsc whose tests fail is still offered: %s", res.Patched.Path)
				}
			}
			if err2 := res.Finish(); (err2 == nil) != (err == nil) {
				t.Errorf("second Finish = %v, first %v", err2, err)
			}
			if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) != 0 {
				t.Errorf("Finish left %d entries in the cache's tmp dir", len(ents))
			}
			// The lock is free again, and only a tested binary is cached.
			o.DeferTests = false
			again, err := Build(ctx, o)
			switch {
			case tc.pass && (err != nil || !again.Patched.Cached):
				t.Errorf("after a passing Finish, Build = %+v, %v; want the cached binary", again, err)
			case !tc.pass && (err == nil || !strings.Contains(err.Error(), "patched gVisor packages fail their tests")):
				t.Errorf("after a failing Finish, Build = %v; want the tests to run and fail again", err)
			}
		})
	}
}

// TestStampVersion checks that the gVisor version is read from stock and
// patched stamps, and that a line without one gives "".
func TestStampVersion(t *testing.T) {
	for line, want := range map[string]string{
		"runsc version v0.0.0-20260518063529-209a0ce076a1":                                          "v0.0.0-20260518063529-209a0ce076a1",
		"runsc version v0.0.0-20260905035102-160fafc42237+restartsys-core+parity-95e24d3d08a6.0002": "v0.0.0-20260905035102-160fafc42237",
		"(runsc --version failed: exit status 1)":                                                   "",
		"runsc version release-20240101.0":                                                          "",
	} {
		if got := StampVersion(line); got != want {
			t.Errorf("StampVersion(%q) = %q, want %q", line, got, want)
		}
	}
}
