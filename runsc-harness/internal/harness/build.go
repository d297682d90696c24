package harness

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/restartsys/restartsys/runsc-harness/internal/boot"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// BuildOptions say which stock and patched runsc to build.
type BuildOptions struct {
	// Version is the resolved gVisor module version (ResolveVersion).
	Version string
	// Series and Sets select the patches; the baseline sets go into both
	// binaries where the tree needs them.
	Series *series.Series
	Sets   []string
	// Cache is the build cache directory.
	Cache string
	// SkipTests skips the Go tests of the patched gVisor packages.
	SkipTests bool
	// DeferTests runs those tests in the background; the caller must call
	// Result.Finish (build.Options.DeferTests).
	DeferTests bool
	// StockReady is called with the stock runsc as soon as it is ready
	// (build.Options.StockReady).
	StockReady func(build.Artifact)
	// StockOnly builds the stock runsc only.
	StockOnly bool
	// RepoRoot is the repository whose storm guest boots the binaries;
	// found from the working directory when empty.
	RepoRoot string
	// Log receives progress lines; nil discards.
	Log io.Writer
}

// Build builds (or takes from the cache) the stock and patched runsc of
// o.Version. Every binary boots the storm guest before it is cached
// (BootCheck), so a runsc that comes back runs.
func Build(ctx context.Context, o BuildOptions) (*build.Result, error) {
	bootFn, err := BootCheck(ctx, o.RepoRoot, o.Cache, o.Log)
	if err != nil {
		return nil, err
	}
	return build.Build(ctx, build.Options{
		Version: o.Version, Series: o.Series, Sets: o.Sets, CacheDir: o.Cache,
		SkipTests: o.SkipTests, DeferTests: o.DeferTests, StockReady: o.StockReady, StockOnly: o.StockOnly, Progress: o.Log, Boot: bootFn,
	})
}

// BootCheck returns the check every build runs before it caches a runsc:
// the storm guest of the repository at repo (found from the working
// directory when empty) under the new binary. It needs root, and says so
// before anything is downloaded or built. The logs of a binary that does
// not boot are kept under CACHE/boot-failures.
func BootCheck(ctx context.Context, repo, cache string, log io.Writer) (build.BootFunc, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return nil, fmt.Errorf("every build boots its runsc: %w", err)
	}
	if repo == "" {
		var err error
		if repo, err = guests.RepoRoot("."); err != nil {
			return nil, err
		}
	}
	c, err := boot.ForRepo(ctx, repo, filepath.Join(cache, "boot-failures"), log)
	if err != nil {
		return nil, err
	}
	return c.Check, nil
}

// Runscs names the binaries of a build "stock" and "patched" (the latter
// only if it was built).
func Runscs(res *build.Result) []Runsc {
	out := []Runsc{{Name: "stock", Kind: report.Stock, Path: res.Stock.Path, GVisor: res.Version}}
	if res.Patched.Path != "" {
		out = append(out, Runsc{Name: "patched", Kind: report.Patched, Path: res.Patched.Path, GVisor: res.Version})
	}
	return out
}

// KnownVersions lists the gVisor snapshots, saying on log when the list
// comes from the module cache because the proxy is unreachable.
func KnownVersions(ctx context.Context, log io.Writer) ([]gvisor.Version, gvisor.Source, error) {
	env, err := gvisor.GoEnv(ctx)
	if err != nil {
		return nil, "", err
	}
	vs, src, err := gvisor.List(ctx, env, nil)
	if err != nil {
		return nil, "", err
	}
	if src == gvisor.FromCache {
		fmt.Fprintf(orDiscard(log), "note: module proxy unreachable; using the %d version(s) in the module cache\n", len(vs))
	}
	return vs, src, nil
}

// ResolveVersion turns what a user typed (a module version, a date or
// "latest") into a module version.
func ResolveVersion(ctx context.Context, spec string, log io.Writer) (gvisor.Version, error) {
	vs, _, err := KnownVersions(ctx, log)
	if err != nil {
		return gvisor.Version{}, err
	}
	return gvisor.Resolve(vs, spec)
}

// BuildVersion resolves spec, builds (or takes from the cache) its stock
// and patched runsc with the selected sets (Build), says on log which
// binaries they are, and returns them as "stock" and "patched".
func BuildVersion(ctx context.Context, spec string, ser *series.Series, sets []string, cache string, log io.Writer) ([]Runsc, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return nil, err
	}
	v, err := ResolveVersion(ctx, spec, log)
	if err != nil {
		return nil, err
	}
	res, err := Build(ctx, BuildOptions{Version: v.Version, Series: ser, Sets: sets, Cache: cache, Log: log})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(orDiscard(log), "stock   runsc %s: %s\npatched runsc %s: %s\n", res.Stock.Stamp, res.Stock.Path, res.Patched.Stamp, res.Patched.Path)
	return Runscs(res), nil
}
