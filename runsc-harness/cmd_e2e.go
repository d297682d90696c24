package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e/docker"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

func init() {
	register(&command{
		name:     "e2e",
		synopsis: "end to end under a SIGURG storm: e2e runc (runc inside runsc), e2e docker (docker exec in Docker-in-Docker), e2e containerd (ctr via the runsc shim)",
		run:      runE2E,
		helpArgs: []string{"runc", "--help"},
	})
}

// e2eConfig is what `e2e CLIENT` was asked to do: the runsc to build or
// take (run), the suite's options (suite: binaries, version, cache and
// directories come from run), noVerdict (exit 0 whatever the counts) and
// label (--runsc given: --gvisor only names their version).
type e2eConfig struct {
	client           string
	run              runConfig
	suite            e2e.SuiteOptions
	noVerdict, label bool
}

func parseE2EFlags(args []string) (*e2eConfig, error) {
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = append([]string{"runc"}, args...) // runc is the default client
	}
	if len(args) == 0 || e2e.CheckClient(args[0], nil) != nil {
		return nil, cliflag.Usagef(`want "e2e runc|docker|containerd [flags]"`)
	}
	c := &e2eConfig{client: args[0]}
	fs := flag.NewFlagSet("e2e "+c.client, flag.ContinueOnError)
	fs.StringVar(&c.run.gvisor, "gvisor", defaultGVisor, "gVisor version to build stock and patched runsc for: a module version, a date (YYYY-MM-DD) or latest; with --runsc it only labels the report")
	fs.Var((*cliflag.Runscs)(&c.run.Runscs), "runsc", "NAME=PATH of a runsc binary, NAME starting with stock or patched (instead of --gvisor); repeat for several")
	fs.StringVar(&c.run.cache, "cache", build.DefaultCacheDir(), "build cache directory, for runsc, runc and the shim ($RESTARTSYS_CACHE)")
	fs.StringVar(&c.run.Out, "out", "", "output directory (default out/e2e[-CLIENT]-TIMESTAMP under the repository)")
	fs.StringVar(&c.run.State, "state", "", "private runsc state base directory (default: a fresh temporary one)")
	modes := c.suite.Register(fs, c.client)
	fs.BoolVar(&c.noVerdict, "no-verdict", false, "exit 0 whatever the counts (only fail when the runs could not be made)")
	c.run.sets.Register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), e2e.ClientUsage(c.client)+"\nflags:\n")
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
	if c.suite.Modes, err = e2e.ParseModes(*modes); err == nil {
		err = e2e.CheckClient(c.client, c.suite.Modes)
	}
	if err != nil {
		return nil, err
	}
	if c.suite.Runs < 0 || c.suite.Execs < 0 || c.suite.Runs+c.suite.Execs == 0 {
		return nil, errors.New("--runs and --execs must be >= 0, not both 0")
	}
	if _, err := platformVariant(c.suite.Platform); err != nil {
		return nil, err
	}
	if c.run.gvisor == "" && (len(c.run.Runscs) == 0 || c.client == e2e.ClientContainerd) {
		return nil, errors.New("no --gvisor V given (e2e containerd builds the shim from it) or no --runsc NAME=PATH")
	}
	if err := checkGVisorSpec("gvisor", c.run.gvisor, false); c.run.gvisor != "" && err != nil {
		return nil, err
	}
	_, _, err = c.run.sets.Load()
	return c, err
}

func runE2E(ctx context.Context, args []string) error {
	c, err := parseE2EFlags(args)
	if err != nil && !errors.Is(err, errHelp) && !errors.As(err, new(cliflag.UsageError)) {
		err = cliflag.UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	d, err := e2eRun(ctx, c)
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

// e2eRun builds (or takes) the runsc binaries and runs the client's suite
// under each: internal/e2e for runc, internal/e2e/docker for docker and
// containerd.
func e2eRun(ctx context.Context, c *e2eConfig) (*e2e.Document, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return nil, err
	}
	o := c.suite
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
		ser, _, _ := c.run.sets.Load()
		o.GVisor, o.Affected = v.Version, docker.AffectedOps(ser, v.Version)
	}
	o.Runscs, o.Cache, o.Out, o.State, o.Log = c.run.Runscs, c.run.cache, c.run.Out, c.run.State, os.Stderr
	switch c.client {
	case e2e.ClientDocker:
		return docker.Suite(ctx, o)
	case e2e.ClientContainerd:
		return docker.Containerd(ctx, o)
	}
	o.Affected = nil // e2e runc: stock must fail something under the storm
	return e2e.Suite(ctx, o)
}
