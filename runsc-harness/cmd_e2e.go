package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

func init() {
	register(&command{
		name:     "e2e",
		synopsis: "end to end with real runc inside runsc: e2e runc (sequential runc run / runc exec under a SIGURG storm)",
		run:      runE2E,
		helpArgs: []string{"runc", "--help"},
	})
}

// e2eConfig is what `e2e runc` was asked to do: the runsc to build or
// take (run) and the suite's options (suite; its binaries, version label,
// cache and directories come from run).
type e2eConfig struct {
	run   runConfig
	suite e2e.SuiteOptions
	// noVerdict exits 0 whatever the counts.
	noVerdict bool
	// label is set when --runsc binaries are given: --gvisor then only
	// names their version in the report.
	label bool
}

func parseE2EFlags(args []string) (*e2eConfig, error) {
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = append([]string{"runc"}, args...) // runc is the only client so far
	}
	if len(args) == 0 || args[0] != "runc" {
		return nil, cliflag.Usagef(`want "e2e runc [flags]" (runc is the only end-to-end client so far)`)
	}
	fs := flag.NewFlagSet("e2e runc", flag.ContinueOnError)
	c := &e2eConfig{}
	fs.StringVar(&c.run.gvisor, "gvisor", defaultGVisor, "gVisor version to build stock and patched runsc for: a module version, a date (YYYY-MM-DD) or latest; with --runsc it only labels the report")
	fs.Var((*cliflag.Runscs)(&c.run.Runscs), "runsc", "NAME=PATH of a runsc binary, NAME starting with stock or patched (instead of --gvisor); repeat for several")
	fs.StringVar(&c.run.cache, "cache", build.DefaultCacheDir(), "build cache directory, for runsc and runc ($RESTARTSYS_CACHE)")
	fs.StringVar(&c.run.Out, "out", "", "output directory (default out/e2e-TIMESTAMP under the repository)")
	fs.StringVar(&c.run.State, "state", "", "private runsc state base directory (default: a fresh temporary one)")
	fs.StringVar(&c.suite.RuncVersion, "runc-version", e2e.DefaultRuncVersion, "runc module version to build (github.com/opencontainers/runc)")
	fs.StringVar(&c.suite.Platform, "platform", "systrap", "runsc platform: systrap or ptrace")
	fs.IntVar(&c.suite.Runs, "runs", 50, "sequential runc run per mode")
	fs.IntVar(&c.suite.Execs, "execs", 50, "sequential runc exec -d per mode (into one runc run -d container)")
	modes := fs.String("modes", "plain,storm,asyncpreemptoff", "modes, comma-separated: plain (no storm), storm (SIGURG to every runc thread), asyncpreemptoff (no storm, GODEBUG=asyncpreemptoff=1)")
	fs.DurationVar(&c.suite.StormInterval, "storm-interval", 200*time.Microsecond, "SIGURG storm period")
	fs.DurationVar(&c.suite.OpTimeout, "op-timeout", 30*time.Second, "deadline of one runc command inside the sandbox")
	fs.DurationVar(&c.suite.Timeout, "timeout", 0, "deadline of each sandbox (default: 1m + 3s per operation)")
	fs.BoolVar(&c.noVerdict, "no-verdict", false, "exit 0 whatever the counts (only fail when the runs could not be made)")
	c.run.sets.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness e2e runc [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return nil, err
	}
	if len(c.run.Runscs) > 0 {
		// --runsc given: nothing is built; an explicit --gvisor only
		// labels the report with the version those binaries are.
		c.label = true
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "gvisor" })
		if !explicit {
			c.run.gvisor = ""
		}
	}
	var err error
	if c.suite.Modes, err = e2e.ParseModes(*modes); err != nil {
		return nil, err
	}
	if c.suite.Runs < 0 || c.suite.Execs < 0 || c.suite.Runs+c.suite.Execs == 0 {
		return nil, errors.New("--runs and --execs must be >= 0, not both 0")
	}
	if _, err := platformVariant(c.suite.Platform); err != nil {
		return nil, err
	}
	if len(c.run.Runscs) == 0 && c.run.gvisor == "" {
		return nil, errors.New("no --gvisor V or --runsc NAME=PATH given")
	}
	if c.run.gvisor != "" {
		if err := checkGVisorSpec("gvisor", c.run.gvisor, false); err != nil {
			return nil, err
		}
	}
	if _, _, err := c.run.sets.Load(); err != nil {
		return nil, err
	}
	return c, nil
}

func runE2E(ctx context.Context, args []string) error {
	c, err := parseE2EFlags(args)
	if err != nil {
		if errors.Is(err, errHelp) || errors.As(err, new(cliflag.UsageError)) {
			return err
		}
		return cliflag.UsageError{Err: err}
	}
	d, err := e2eRunc(ctx, c)
	if err != nil {
		return err
	}
	e2e.WriteTable(os.Stdout, d)
	if c.noVerdict {
		return nil
	}
	if probs := d.Problems(); len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	fmt.Println("verdict: " + d.Verdict())
	return nil
}

// e2eRunc builds (or takes) the runsc binaries and runs the suite of
// internal/e2e under each.
func e2eRunc(ctx context.Context, c *e2eConfig) (*e2e.Document, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return nil, err
	}
	gv := ""
	if c.run.gvisor != "" {
		if !c.label {
			if err := addBuiltRunsc(ctx, &c.run); err != nil {
				return nil, err
			}
		}
		v, err := harness.ResolveVersion(ctx, c.run.gvisor, os.Stderr)
		if err != nil {
			return nil, err
		}
		gv = v.Version
	}
	o := c.suite
	o.GVisor, o.Runscs, o.Cache, o.Out, o.State, o.Log = gv, c.run.Runscs, c.run.cache, c.run.Out, c.run.State, os.Stderr
	return e2e.Suite(ctx, o)
}
