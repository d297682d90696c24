package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
)

// SuiteOptions say what Suite runs.
type SuiteOptions struct {
	// GVisor labels the report with the version of the binaries.
	GVisor string
	// Runscs are the runsc binaries, each run in a sandbox of its own.
	Runscs []harness.Runsc
	// RuncVersion is the runc module version to build into Cache.
	RuncVersion, Cache string
	// Out receives the reports (a fresh out/e2e-TIMESTAMP when empty);
	// State is the runsc state base (a fresh temporary one when empty).
	Out, State string
	// Platform is the runsc platform.
	Platform string
	// Runs and Execs are the sequential runc run and runc exec per mode.
	Runs, Execs int
	Modes       []Mode
	// StormInterval is the SIGURG storm period; OpTimeout bounds one runc
	// command and Timeout each sandbox (0: 1m + 3s per operation).
	StormInterval, OpTimeout, Timeout time.Duration
	// Affected, for the docker client, says per operation whether the
	// series map has stock runsc of GVisor affected (Document.Affected).
	Affected map[Op]bool
	// Log receives progress; nil discards.
	Log io.Writer
}

// Suite builds runc and the driver, runs one sandbox per runsc (real runc
// inside, under a SIGURG storm or not) and writes the reports into o.Out.
func Suite(ctx context.Context, o SuiteOptions) (_ *Document, retErr error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	for _, r := range o.Runscs {
		if fi, err := os.Stat(r.Path); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("runsc %s: %s is not a file", r.Name, r.Path)
		}
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		o.Out = filepath.Join(repo, "out", "e2e-"+time.Now().Format("20060102-150405"))
	}
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	runc, err := BuildRunc(ctx, o.RuncVersion, o.Cache, log)
	if err != nil {
		return nil, err
	}
	driver := filepath.Join(o.Out, "driver")
	if err := BuildDriver(ctx, repo, driver); err != nil {
		return nil, err
	}
	sb, err := harness.OpenStateBase(o.State, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := sb.Close(); err != nil {
			fmt.Fprintf(log, "e2e: cleanup of %s: %v\n", sb.Dir, err)
			if retErr == nil {
				retErr = err
			}
		}
	}()
	doc := &Document{
		Schema: Schema, GVisor: o.GVisor, RuncVersion: runc.Version, RuncTags: runc.Tags,
		Runs: o.Runs, Execs: o.Execs, Modes: o.Modes, StormInterval: o.StormInterval.String(),
		Platform: o.Platform,
	}
	for _, r := range o.Runscs {
		if ctx.Err() != nil {
			break
		}
		rt, err := sb.Runtime(r.Name, r.Path)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "e2e: runc %s inside %s (%s): %d run + %d exec per mode, modes %v\n",
			runc.Version, r.Name, r.Path, o.Runs, o.Execs, o.Modes)
		res, err := Run(ctx, Options{
			Name: r.Name, Kind: r.Kind, Runsc: r.Path, StateRoot: rt.StateRoot, Platform: o.Platform,
			Driver: driver, Runc: runc.Path, Runs: o.Runs, Execs: o.Execs, Modes: o.Modes,
			StormInterval: o.StormInterval, OpTimeout: o.OpTimeout, Timeout: o.Timeout,
			WorkDir: o.Out,
		})
		if err != nil {
			return nil, fmt.Errorf("e2e under %s: %w", r.Name, err)
		}
		if res.Failure != "" {
			fmt.Fprintf(log, "e2e: %s: %s\n", r.Name, res.Failure)
		}
		doc.Results = append(doc.Results, *res)
	}
	if err := WriteReports(doc, o.Out); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "reports in %s\n", o.Out)
	if err := ctx.Err(); err != nil {
		return doc, fmt.Errorf("interrupted; partial reports in %s: %w", o.Out, err)
	}
	return doc, nil
}
