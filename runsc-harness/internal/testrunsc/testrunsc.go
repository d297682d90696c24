// Package testrunsc gives tests a real runsc to run: stock and patched runsc
// for the default affected gVisor release, built through the harness's own
// cache (so on a fresh machine the first test builds them, and every later
// one reuses them). $RUNSC_STOCK and $RUNSC_PATCHED override the binaries.
package testrunsc

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/boot"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// Version is the gVisor release the tests run: the last one with both the
// ConvertIntr and the FIFO-open bug.
const Version = "v0.0.0-20260518063529-209a0ce076a1"

var (
	once   sync.Once
	result *build.Result
	err    error
)

// Build returns the stock and patched (core set) runsc of Version, building
// them if the cache does not have them. It skips the test when not root or
// in -short mode, since runsc needs root and a cold build takes minutes.
func Build(t testing.TB) *build.Result {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a runsc build (skipped in -short mode)")
	}
	if os.Geteuid() != 0 {
		t.Skip("runsc needs root")
	}
	once.Do(func() {
		var s *series.Series
		if s, err = series.Load(patches.FS); err != nil {
			return
		}
		var repo string
		if repo, err = guests.RepoRoot("."); err != nil {
			return
		}
		var checker *boot.Checker
		cache := build.DefaultCacheDir()
		if checker, err = boot.ForRepo(context.Background(), repo, filepath.Join(cache, "boot-failures"), os.Stderr); err != nil {
			return
		}
		result, err = build.Build(context.Background(), build.Options{
			Boot:     checker.Check,
			Version:  Version,
			Series:   s,
			Sets:     []string{"core"},
			CacheDir: cache,
			Progress: os.Stderr,
			Download: gvisor.Download,
		})
	})
	if err != nil {
		t.Fatalf("building runsc for %s: %v", Version, err)
	}
	return result
}

// Stock returns the path of a stock runsc ($RUNSC_STOCK, or Build's).
func Stock(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RUNSC_STOCK"); p != "" {
		return p
	}
	return Build(t).Stock.Path
}

// Patched returns the path of a patched runsc ($RUNSC_PATCHED, or Build's).
func Patched(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RUNSC_PATCHED"); p != "" {
		return p
	}
	return Build(t).Patched.Path
}
