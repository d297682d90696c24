package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
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
	noBoot := fs.Bool("no-boot-check", false, "do not boot the new binaries (where runsc cannot run: not root, say); they are cached as not booted, and every command that runs one boots it first")
	var sf seriesFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness build [--gvisor V] [--out DIR] [--sets core,parity] [--skip-tests] [--json]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ser, _, err := sf.load()
	if err != nil {
		return err
	}
	if err := checkGVisorSpec("gvisor", *gv, false); err != nil {
		return err
	}
	if *out != "" {
		if err := checkOutDir(*out); err != nil {
			return usageError{err}
		}
	}
	v, err := resolveVersion(ctx, *gv, os.Stderr)
	if err != nil {
		return err
	}
	var boot build.BootFunc
	if !*noBoot {
		if boot, err = bootCheck(ctx, *cache); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "gVisor %s (%s)\n", v.Version, v.Date())
	res, err := build.Build(ctx, build.Options{
		Version:   v.Version,
		Series:    ser,
		Sets:      sf.setList(),
		CacheDir:  *cache,
		SkipTests: *skipTests,
		Progress:  os.Stderr,
		Boot:      boot,
	})
	if err != nil {
		return err
	}
	if *out != "" {
		for _, a := range []struct {
			src  *build.Artifact
			name string
		}{{&res.Stock, "runsc-stock"}, {&res.Patched, "runsc-patched"}} {
			dst, err := filepath.Abs(filepath.Join(*out, a.name))
			if err != nil {
				return err
			}
			if err := build.Install(a.src.Path, dst); err != nil {
				return fmt.Errorf("writing %s: %w", dst, err)
			}
			a.src.Path = dst
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
	}{{"stock", res.Stock}, {"patched", res.Patched}} {
		cached := ""
		if a.art.Cached {
			cached = " (cached)"
		}
		fmt.Printf("%-8s %s%s\n         %s\n", a.label, a.art.Path, cached, runscVersion(ctx, a.art.Path))
	}
	return nil
}

// runscVersion is the first line of `runsc --version`, as a check that the
// binary runs and carries its stamp.
func runscVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return fmt.Sprintf("(runsc --version failed: %v)", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// checkOutDir fails early, before any build, if dir cannot receive the
// binaries: it exists and is not a directory, or cannot be made.
func checkOutDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("--out %s: not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
