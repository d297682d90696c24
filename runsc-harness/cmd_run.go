package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

func init() {
	register(&command{
		name:     "run",
		synopsis: "run guests natively and under runsc variants, compare, write reports",
		run:      runRun,
	})
}

// runConfig is what run (and verify, soak, e2e) were asked for: the
// harness options, and where their runsc binaries and expectations come
// from.
type runConfig struct {
	harness.Options
	native bool
	// expected is the --expected file, read into Options.Expected.
	expected string
	// gvisor, when set, builds stock and patched runsc for that version
	// (with the series sets in sets, cached in cache) and runs both.
	gvisor string
	sets   cliflag.Series
	cache  string
}

func parseRunFlags(args []string) (*runConfig, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c := &runConfig{}
	guest := fs.String("guest", "all", "guest to run: storm, matrix, keyring, nsc, nsgo, all (storm and matrix) or tiny (the harness's own test guest); comma-separated list allowed")
	fs.Var((*cliflag.Runscs)(&c.Runscs), "runsc", "NAME=PATH of a runsc binary, NAME starting with stock or patched; repeat for several")
	platforms := &cliflag.List{Vals: []string{"systrap"}}
	networks := &cliflag.List{Vals: []string{"none"}}
	directfs := &cliflag.List{Vals: []string{"default"}}
	fs.Var(platforms, "platform", "runsc platforms, comma-separated: systrap, ptrace")
	fs.Var(networks, "network", "runsc networks, comma-separated: none, sandbox, host")
	fs.Var(directfs, "directfs", "runsc directfs settings, comma-separated: on, off, default")
	fs.BoolVar(&c.native, "native", false, "run natively only (no runsc): check the guests on this kernel")
	fs.DurationVar(&c.Timeout, "timeout", 3*time.Minute, "deadline of each run; a guest still running then is killed and reported as a failure")
	fs.StringVar(&c.Out, "out", "", "output directory (default out/run-TIMESTAMP under the repository)")
	fs.StringVar(&c.State, "state", "", "private runsc state root directory (default: a fresh temporary directory)")
	fs.StringVar(&c.expected, "expected", "", "JSON files listing expected divergences [{guest, shape, disposition, kind, reason, before}], comma-separated (one per guest, say)")
	fs.BoolVar(&c.AllowStale, "allow-stale-expected", false, "an --expected entry that no longer diverges is reported but does not fail the run (old snapshots)")
	fs.BoolVar(&c.Debug, "debug", false, "pass --debug to runsc (verbose logs in each run's log directory)")
	fs.StringVar(&c.gvisor, "gvisor", "", "build (or take from the cache) stock and patched runsc for this gVisor version and run both")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory, with --gvisor ($RESTARTSYS_CACHE)")
	c.sets.Register(fs)
	cliflag.SetUsage(fs, "run [flags] [-- guest args]", "")
	if err := parseFlagsArgs(fs, args); err != nil {
		return nil, err
	}
	c.GuestArgs = fs.Args()
	if err := checkGVisorSpec("gvisor", c.gvisor, false); err != nil {
		return nil, err
	}
	if c.gvisor != "" || c.expected != "" {
		// Inputs are checked before anything is built.
		if _, _, err := c.sets.Load(); err != nil {
			return nil, cliflag.UsageError{Err: err}
		}
	}
	for _, f := range strings.FieldsFunc(c.expected, func(r rune) bool { return r == ',' }) {
		list, err := report.LoadExpected(f)
		if err != nil {
			return nil, cliflag.Usagef("--expected: %v", err)
		}
		c.Expected = append(c.Expected, list...)
	}
	var err error
	if c.Guests, err = guests.Select(*guest); err != nil {
		return nil, cliflag.UsageError{Err: err}
	}
	if len(c.GuestArgs) > 0 && len(c.Guests) > 1 {
		return nil, cliflag.Usagef("guest arguments %q need a single --guest (the guests take different flags)", c.GuestArgs)
	}
	if c.native && (len(c.Runscs) > 0 || c.gvisor != "") {
		return nil, cliflag.Usagef("--native runs without runsc: drop --runsc/--gvisor or --native")
	}
	if !c.native && len(c.Runscs) == 0 && c.gvisor == "" {
		return nil, cliflag.Usagef("no --runsc NAME=PATH or --gvisor V given (or use --native)")
	}
	if c.Timeout <= 0 {
		return nil, cliflag.Usagef("--timeout must be positive")
	}
	if c.Variants, err = sandbox.Variants(platforms.Vals, networks.Vals, directfs.Vals); err != nil {
		return nil, cliflag.UsageError{Err: err}
	}
	if err := harness.CheckRunscs(c.Runscs); err != nil {
		return nil, cliflag.UsageError{Err: err}
	}
	return c, nil
}

func runRun(ctx context.Context, args []string) error {
	c, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	d, err := runGuests(ctx, c)
	if err != nil {
		return err
	}
	return problems(d)
}
