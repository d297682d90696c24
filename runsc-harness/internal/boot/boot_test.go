package boot_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/boot"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// oldest is the oldest affected snapshot: built with this machine's Go
// without the compat set, its Sentry reads goroutine ids at Go 1.23's
// offset and panics on the first blocking call.
const oldest = "v0.0.0-20240423190808-9d7a357edefe"

func checker(t *testing.T) *boot.Checker {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the boot check runs runsc, which needs root: run the tests as root")
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	c, err := boot.ForRepo(context.Background(), repo, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withoutBaseline is the real series with its baseline list dropped, so
// that the compat set is applied to no build: the stock runsc of an old
// snapshot is then the module exactly as published.
func withoutBaseline(t *testing.T) *series.Series {
	t.Helper()
	mfs := fstest.MapFS{}
	err := fs.WalkDir(patches.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(patches.FS, p)
		if p == series.MapFile {
			b = regexp.MustCompile(`(?s)"baseline": \[.*?\],`).ReplaceAll(b, nil)
		}
		mfs[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := series.Load(mfs)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Baseline) != 0 {
		t.Fatal("baseline still set")
	}
	return s
}

// TestBuildFailsOnRunscThatPanics builds the oldest snapshot's stock runsc
// as published (no compat set) with this machine's Go: the build must fail
// with the Sentry's panic in its message, and cache nothing. The same
// build with the compat set boots (TestCompatRunscBoots).
func TestBuildFailsOnRunscThatPanics(t *testing.T) {
	c := checker(t)
	cache := t.TempDir()
	var progress bytes.Buffer
	_, err := build.Build(context.Background(), build.Options{
		Version: oldest, Series: withoutBaseline(t), Sets: []string{"core"}, CacheDir: cache,
		StockOnly: true, Progress: &progress, Boot: c.Check, Download: gvisor.Download,
	})
	if err == nil {
		t.Fatalf("building %s without the compat set succeeded; its runsc booted:\n%s", oldest, progress.String())
	}
	t.Logf("build failed as it must:\n%v", err)
	for _, want := range []string{
		"runsc-stock (" + oldest + ") was built but does not run, so it is not cached",
		"panic: running on goroutine",
		"task goroutine for kernel.Task",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	var cached []string
	filepath.WalkDir(filepath.Join(cache, "runsc"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			cached = append(cached, p)
		}
		return nil
	})
	if len(cached) != 0 {
		t.Errorf("a runsc that panics was cached: %v", cached)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) != 0 {
		t.Errorf("the failed build left %d tree(s) in the cache's tmp", len(ents))
	}
}

// TestCompatRunscBoots builds (or takes from the cache) the oldest
// snapshot's stock and patched runsc with the series as shipped: both
// carry the compat set and boot.
func TestCompatRunscBoots(t *testing.T) {
	c := checker(t)
	s, err := series.Load(patches.FS)
	if err != nil {
		t.Fatal(err)
	}
	res, err := build.Build(context.Background(), build.Options{
		Version: oldest, Series: s, Sets: []string{"core"}, CacheDir: build.DefaultCacheDir(),
		Progress: os.Stderr, Boot: c.Check, Download: gvisor.Download,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []build.Artifact{res.Stock, res.Patched} {
		if !strings.Contains(a.Stamp, ".0201") {
			t.Errorf("%s: stamp %q does not name the compat patch 0201", a.Path, a.Stamp)
		}
		// Booted again here, cached or not: the check is cheap.
		if what, err := c.Check(context.Background(), a.Path); err != nil {
			t.Errorf("%s does not boot: %v", a.Stamp, err)
		} else {
			t.Logf("%s: %s", a.Stamp, what)
		}
	}
}

func TestFindPanic(t *testing.T) {
	dir := t.TempDir()
	log := "I1201 10:21:15 some line\npanic: running on goroutine 1 (x)\n\ngoroutine 13 [running]:\npanic(...)\n\truntime/panic.go:879\nmore\nmore\nmore\n"
	if err := os.WriteFile(filepath.Join(dir, "runsc.log.boot.txt"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := boot.FindPanic(dir, 3)
	want := "    panic: running on goroutine 1 (x)\n    goroutine 13 [running]:\n    panic(...)"
	if got != want {
		t.Errorf("FindPanic = %q, want %q", got, want)
	}
	if got := boot.FindPanic(t.TempDir(), 3); got != "" {
		t.Errorf("FindPanic of an empty directory = %q", got)
	}
}

// TestCheckHungRunsc boots a "runsc" that never finishes running its
// container: the check must end at its deadline with "runsc hung" and
// leave no process behind.
func TestCheckHungRunsc(t *testing.T) {
	c := checker(t)
	dir := t.TempDir()
	fake := filepath.Join(dir, "runsc")
	// Every runsc command but "run" succeeds at once; "run" hangs.
	script := "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = run ] && exec sleep 987654; done\nexit 0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.Timeout = 2 * time.Second
	start := time.Now()
	_, err := c.Check(context.Background(), fake)
	if err == nil || !strings.Contains(err.Error(), "runsc hung") {
		t.Fatalf("Check of a hanging runsc: %v, want \"runsc hung\"", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the check took %v to give up", d)
	}
	if out, err := exec.Command("pgrep", "-f", "sleep 987654").Output(); err == nil {
		t.Errorf("the hung runsc's process is still running: pid %s", strings.TrimSpace(string(out)))
	}
}
