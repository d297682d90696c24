package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/soak"
)

func init() {
	register(&command{
		name:     "soak",
		synopsis: "run the storm under patched runsc for a long time: interrupted calls, EINTR, wrong bytes, Sentry memory",
		run:      runSoak,
	})
}

func runSoak(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	c := &runConfig{Options: harness.Options{Guests: []string{"storm"}}}
	fs.StringVar(&c.gvisor, "gvisor", defaultGVisor, "gVisor version to build patched runsc for: a module version, a date (YYYY-MM-DD) or latest")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE)")
	runscPath := fs.String("runsc", "", "use this patched runsc instead of building one")
	platform := fs.String("platform", "systrap", "runsc platform: systrap or ptrace")
	duration := fs.Duration("duration", 10*time.Minute, "how long the storm runs in all (split evenly between the cases of --variant)")
	variant := fs.String("variant", "all", "storm variant: sync-socket, exec-fifo or all")
	sample := fs.Duration("sample", 10*time.Second, "how often to read the Sentry's resident set size")
	fs.StringVar(&c.Out, "out", "", "output directory (default out/soak-TIMESTAMP under the repository)")
	c.sets.Register(fs)
	cliflag.SetUsage(fs, "soak [--gvisor V] [--duration D] [--platform P] [--variant V]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := platformVariant(*platform)
	if err != nil {
		return err
	}
	if cases := map[string]int{"sync-socket": 1, "exec-fifo": 2, "all": 3}[*variant]; cases == 0 {
		return cliflag.Usagef("--variant: unknown storm variant %q (want sync-socket, exec-fifo or all)", *variant)
	}
	if *duration <= 0 || *sample <= 0 {
		return cliflag.Usagef("--duration and --sample must be positive")
	}
	if err := checkGVisorSpec("gvisor", c.gvisor, false); err != nil {
		return err
	}
	if _, _, err := c.sets.Load(); err != nil {
		return err
	}
	if err := sandbox.CheckRoot(); err != nil {
		return err
	}

	sc := soak.Config{Variant: v, Storm: *variant, Duration: *duration, Sample: *sample, Out: c.Out,
		Command: append([]string{"runsc-harness", "soak"}, args...), Log: os.Stderr}
	if *runscPath != "" {
		var err error
		if sc.Runsc, err = filepath.Abs(*runscPath); err != nil {
			return err
		}
	} else {
		if err := addBuiltRunsc(ctx, c); err != nil {
			return err
		}
		sc.Runsc = c.Runscs[len(c.Runscs)-1].Path // the patched one
	}
	sc.Stamp = build.RunscVersion(ctx, sc.Runsc)
	res, path, err := soak.Run(ctx, sc)
	if err != nil {
		return err
	}
	soak.Print(os.Stdout, res, path)
	return soak.Verdict(res)
}
