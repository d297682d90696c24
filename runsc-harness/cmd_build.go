package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
)

func init() {
	register(&command{
		name:     "build",
		synopsis: "build stock and patched runsc for a gVisor version (cached)",
		run:      runBuild,
	})
}

func runBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	gv := fs.String("gvisor", defaultGVisor, "gVisor version: a module version, a date (YYYY-MM-DD: newest snapshot on or before it) or latest")
	out := fs.String("out", "", "directory to receive runsc-stock and runsc-patched (default: leave them in the cache)")
	cache := fs.String("cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE)")
	skipTests := fs.Bool("skip-tests", false, "do not run the Go tests of the patched gVisor packages")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	shim := fs.Bool("shim", true, "also build gVisor's containerd shim, "+build.ShimName+", from the same snapshot (cached; --out gets it too)")
	noBoot := fs.Bool("no-boot-check", false, "do not boot the new binaries (where runsc cannot run: not root, say); they are cached as not booted, and every command that runs one boots it first")
	var sf cliflag.Series
	sf.Register(fs)
	cliflag.SetUsage(fs, "build [--gvisor V] [--out DIR] [--sets core,parity] [--shim=false] [--skip-tests] [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ser, _, err := sf.Load()
	if err != nil {
		return err
	}
	if err := checkGVisorSpec("gvisor", *gv, false); err != nil {
		return err
	}
	if *out != "" {
		if err := build.CheckOutDir(*out); err != nil {
			return cliflag.UsageError{Err: err}
		}
	}
	v, err := harness.ResolveVersion(ctx, *gv, os.Stderr)
	if err != nil {
		return err
	}
	var boot build.BootFunc
	if !*noBoot {
		if boot, err = harness.BootCheck(ctx, "", *cache, os.Stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "gVisor %s (%s)\n", v.Version, v.Date())
	res, err := build.Build(ctx, build.Options{
		Version:   v.Version,
		Series:    ser,
		Sets:      sf.SetList(),
		CacheDir:  *cache,
		SkipTests: *skipTests,
		Progress:  os.Stderr,
		Boot:      boot,
	})
	if err != nil {
		return err
	}
	if *shim {
		if res.Shim, err = build.BuildShim(ctx, build.ShimOptions{Version: v.Version, CacheDir: *cache, Progress: os.Stderr}); err != nil {
			return err
		}
	}
	if *out != "" {
		if err := res.InstallTo(*out); err != nil {
			return err
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	for _, a := range []struct {
		label string
		art   build.Artifact
		ver   func(context.Context, string) string
	}{{"stock", res.Stock, build.RunscVersion}, {"patched", res.Patched, build.RunscVersion}, {"shim", res.Shim, build.ShimVersion}} {
		cached := ""
		if a.art.Cached {
			cached = " (cached)"
		}
		if a.art.Path != "" {
			fmt.Printf("%-8s %s%s\n         %s\n", a.label, a.art.Path, cached, a.ver(ctx, a.art.Path))
		}
	}
	return nil
}
