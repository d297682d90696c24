package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/docs"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

func init() {
	register(&command{
		name:     "verify",
		synopsis: "the main job: build stock and patched runsc, run the bootstrap storm natively and under both, side by side",
		run:      runVerify,
	})
}

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	c := &runConfig{Options: harness.Options{Guests: []string{"storm"}, Timeout: 3 * time.Minute}}
	fs.StringVar(&c.gvisor, "gvisor", defaultGVisor, "gVisor version: a module version, a date (YYYY-MM-DD) or latest; all, or a comma-separated list, verifies each in turn and records the table in docs/affected-versions.{json,md}")
	allowStale := fs.Bool("allow-stale-expected", false, "with --matrix: an expected.json entry that no longer diverges on a snapshot is recorded but does not fail the run (old snapshots)")
	withMatrix := fs.Bool("matrix", false, "with several versions: also run the signal(7) matrix under patched runsc, judged with syscalltests/matrix/expected.json (use --sets core,parity)")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE)")
	platform := fs.String("platform", "systrap", "runsc platform: systrap or ptrace")
	duration := fs.Duration("duration", 0, "storm duration per case (default: the storm's own, 6s)")
	fs.StringVar(&c.Out, "out", "", "output directory for reports (default out/verify-TIMESTAMP under the repository)")
	c.sets.Register(fs)
	cliflag.SetUsage(fs, "verify [--gvisor V|all|V1,V2] [--sets S] [--matrix] [--platform P] [--duration D]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := platformVariant(*platform)
	if err != nil {
		return err
	}
	if err := checkGVisorSpec("gvisor", c.gvisor, true); err != nil {
		return err
	}
	if _, _, err := c.sets.Load(); err != nil {
		return err
	}
	if *duration < 0 {
		return cliflag.Usagef("--duration must not be negative")
	}
	c.Variants = []sandbox.Variant{v}
	if *duration > 0 {
		c.GuestArgs, c.Timeout = guests.StormArgs(*duration)
	}
	if c.gvisor == "all" || strings.Contains(c.gvisor, ",") {
		return verifyVersions(ctx, c.gvisor, c, *withMatrix, *allowStale)
	}
	if *withMatrix {
		return cliflag.Usagef("--matrix goes with several versions (--gvisor all or a list)")
	}
	return verifyOne(ctx, c)
}

// verifyOne is `verify` for one version: harness.VerifyVersion, its
// reports in --out, then the verdict.
func verifyOne(ctx context.Context, c *runConfig) error {
	o, _, err := verifyOptions(c)
	if err != nil {
		return err
	}
	if o.Version, err = harness.ResolveVersion(ctx, c.gvisor, os.Stderr); err != nil {
		return err
	}
	o.StormOut, o.Markdown = c.Out, os.Stdout
	rec, d := harness.VerifyVersion(ctx, o)
	var errs []error
	if d != nil {
		errs = append(errs, docs.StormVerdict(os.Stdout, d))
	}
	if rec.Error != "" {
		errs = append(errs, errors.New(rec.Error))
	}
	return errors.Join(errs...)
}

// verifyOptions checks for root and fills harness.VerifyOptions from c,
// with --out defaulting to out/verify-TIMESTAMP under the repository,
// whose root it returns.
func verifyOptions(c *runConfig) (harness.VerifyOptions, string, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return harness.VerifyOptions{}, "", err
	}
	ser, _, err := c.sets.Load()
	if err != nil {
		return harness.VerifyOptions{}, "", err
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return harness.VerifyOptions{}, "", err
	}
	if c.Out == "" {
		c.Out = filepath.Join(repo, "out", "verify-"+time.Now().Format("20060102-150405"))
	}
	return harness.VerifyOptions{
		Series: ser, Sets: c.sets.SetList(), Cache: c.cache, Variants: c.Variants,
		StormArgs: c.GuestArgs, StormTimeout: c.Timeout, Out: c.Out, Log: os.Stderr,
	}, repo, nil
}

// matrixExpected is the matrix's list of expected divergences, relative to
// the repository root.
const matrixExpected = "syscalltests/matrix/expected.json"

// verifyVersions is `verify` for several versions (--gvisor all, or a
// list): harness.VerifyAll over the resolved snapshots, recorded in
// docs/affected-versions.json and the generated docs.
func verifyVersions(ctx context.Context, spec string, c *runConfig, withMatrix, allowStale bool) error {
	vo, repo, err := verifyOptions(c)
	if err != nil {
		return err
	}
	// The generated docs show the default (core) selection, as `docs` does.
	shown := cliflag.Series{Sets: "core"}
	dser, sel, err := shown.Load()
	if err != nil {
		return err
	}
	o := harness.VerifyAllOptions{
		VerifyOptions: vo, Spec: spec, DocsDir: filepath.Join(repo, "docs"), ShownSeries: dser, ShownSel: sel,
		Command: "runsc-harness verify --gvisor " + spec + " --sets " + c.sets.Sets, Sets: c.sets.Sets,
		AllowStale: allowStale, Stdout: os.Stdout,
	}
	if withMatrix {
		o.MatrixExpected = filepath.Join(repo, matrixExpected)
		o.Command += " --matrix"
	}
	if len(c.GuestArgs) > 1 {
		o.Command += " --duration " + c.GuestArgs[1]
	}
	return harness.VerifyAll(ctx, o)
}
