package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
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

type runConfig struct {
	guests   []string
	runtimes cliflag.Runscs
	variants []sandbox.Variant
	native   bool
	timeout  time.Duration
	out      string
	state    string
	expected string
	debug    bool
	// allowStale relaxes stale --expected entries.
	allowStale bool
	guestArgs  []string
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
	fs.Var(&c.runtimes, "runsc", "NAME=PATH of a runsc binary, NAME starting with stock or patched; repeat for several")
	platforms := &cliflag.List{Vals: []string{"systrap"}}
	networks := &cliflag.List{Vals: []string{"none"}}
	directfs := &cliflag.List{Vals: []string{"default"}}
	fs.Var(platforms, "platform", "runsc platforms, comma-separated: systrap, ptrace")
	fs.Var(networks, "network", "runsc networks, comma-separated: none, sandbox, host")
	fs.Var(directfs, "directfs", "runsc directfs settings, comma-separated: on, off, default")
	fs.BoolVar(&c.native, "native", false, "run natively only (no runsc): check the guests on this kernel")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "deadline of each run; a guest still running then is killed and reported as a failure")
	fs.StringVar(&c.out, "out", "", "output directory (default out/run-TIMESTAMP under the repository)")
	fs.StringVar(&c.state, "state", "", "private runsc state root directory (default: a fresh temporary directory)")
	fs.StringVar(&c.expected, "expected", "", "JSON file listing expected divergences [{shape, disposition, kind, reason}]")
	fs.BoolVar(&c.allowStale, "allow-stale-expected", false, "an --expected entry that no longer diverges is reported but does not fail the run (old snapshots)")
	fs.BoolVar(&c.debug, "debug", false, "pass --debug to runsc (verbose logs in each run's log directory)")
	fs.StringVar(&c.gvisor, "gvisor", "", "build (or take from the cache) stock and patched runsc for this gVisor version and run both")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory, with --gvisor ($RESTARTSYS_CACHE)")
	c.sets.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness run [flags] [-- guest args]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return nil, err
	}
	c.guestArgs = fs.Args()
	if c.gvisor != "" {
		if err := checkGVisorSpec("gvisor", c.gvisor, false); err != nil {
			return nil, err
		}
	}
	if c.gvisor != "" || c.expected != "" {
		// Inputs are checked before anything is built.
		if _, _, err := c.sets.Load(); err != nil {
			return nil, err
		}
	}
	if c.expected != "" {
		if _, err := report.LoadExpected(c.expected); err != nil {
			return nil, cliflag.Usagef("--expected: %v", err)
		}
	}
	var err error
	if c.guests, err = guests.Select(*guest); err != nil {
		return nil, err
	}
	if len(c.guestArgs) > 0 && len(c.guests) > 1 {
		return nil, fmt.Errorf("guest arguments %q need a single --guest (the guests take different flags)", c.guestArgs)
	}
	if c.native && (len(c.runtimes) > 0 || c.gvisor != "") {
		return nil, errors.New("--native runs without runsc: drop --runsc/--gvisor or --native")
	}
	if !c.native && len(c.runtimes) == 0 && c.gvisor == "" {
		return nil, errors.New("no --runsc NAME=PATH or --gvisor V given (or use --native)")
	}
	if c.timeout <= 0 {
		return nil, errors.New("--timeout must be positive")
	}
	if c.variants, err = sandbox.Variants(platforms.Vals, networks.Vals, directfs.Vals); err != nil {
		return nil, err
	}
	if err := harness.CheckRunscs(c.runtimes); err != nil {
		return nil, err
	}
	return c, nil
}

func runRun(ctx context.Context, args []string) error {
	c, err := parseRunFlags(args)
	if err != nil {
		if errors.Is(err, errHelp) || errors.As(err, new(cliflag.UsageError)) {
			return err
		}
		return cliflag.UsageError{Err: err}
	}
	d, err := runGuests(ctx, c)
	if err != nil {
		return err
	}
	return problems(d)
}

// addBuiltRunsc builds (or takes from the cache) stock and patched runsc
// for c.gvisor, each booted, and adds them to c.runtimes as "stock" and
// "patched".
func addBuiltRunsc(ctx context.Context, c *runConfig) error {
	ser, _, err := c.sets.Load()
	if err != nil {
		return err
	}
	if err := sandbox.CheckRoot(); err != nil {
		return err
	}
	v, err := harness.ResolveVersion(ctx, c.gvisor, os.Stderr)
	if err != nil {
		return err
	}
	res, err := harness.Build(ctx, harness.BuildOptions{
		Version: v.Version, Series: ser, Sets: c.sets.SetList(), Cache: c.cache, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	c.runtimes = append(c.runtimes, harness.Runscs(res)...)
	fmt.Fprintf(os.Stderr, "stock   runsc %s: %s\npatched runsc %s: %s\n", res.Stock.Stamp, res.Stock.Path, res.Patched.Stamp, res.Patched.Path)
	return nil
}

// runGuests builds the runsc of c.gvisor if asked, then runs the
// configured guests through harness.Run.
func runGuests(ctx context.Context, c *runConfig) (*report.Document, error) {
	if c.gvisor != "" {
		if err := addBuiltRunsc(ctx, c); err != nil {
			return nil, err
		}
	}
	o := harness.Options{
		Guests: c.guests, GuestArgs: c.guestArgs, Variants: c.variants, Timeout: c.timeout,
		Out: c.out, State: c.state, Debug: c.debug, Log: os.Stderr, Stdout: os.Stdout, AllowStale: c.allowStale,
	}
	if c.native {
		o.Variants = nil
	}
	o.Runscs = c.runtimes
	if c.expected != "" {
		var err error
		if o.Expected, err = report.LoadExpected(c.expected); err != nil {
			return nil, err
		}
	}
	return harness.Run(ctx, o)
}
