package main

import (
	"context"
	"flag"
	"fmt"
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
	fs.StringVar(&c.Out, "out", "", "output directory for reports (default out/run-TIMESTAMP under the repository)")
	c.sets.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness verify [--gvisor V|all|V1,V2] [--sets S] [--matrix] [--platform P] [--duration D]\n\n")
		fs.PrintDefaults()
	}
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
		// The storm runs its three cases one after the other; its own
		// deadline and the harness's must leave room for all three.
		guestTimeout := 3**duration + 30*time.Second
		c.GuestArgs = []string{"-duration", duration.String(), "-timeout", guestTimeout.String()}
		c.Timeout = guestTimeout + time.Minute
	}
	if c.gvisor == "all" || strings.Contains(c.gvisor, ",") {
		return verifyVersions(ctx, c.gvisor, c, *withMatrix, *allowStale)
	}
	if *withMatrix {
		return cliflag.Usagef("--matrix goes with several versions (--gvisor all or a list)")
	}
	d, err := runGuests(ctx, c)
	if err != nil {
		return err
	}
	return docs.StormVerdict(os.Stdout, d)
}

// matrixExpected is the matrix's list of expected divergences, relative to
// the repository root.
const matrixExpected = "syscalltests/matrix/expected.json"

// verifyVersions is `verify` for several versions (--gvisor all, or a
// list): harness.VerifyAll over the resolved snapshots, recorded in
// docs/affected-versions.json and the generated docs.
func verifyVersions(ctx context.Context, spec string, c *runConfig, withMatrix, allowStale bool) error {
	if err := sandbox.CheckRoot(); err != nil {
		return err
	}
	ser, _, err := c.sets.Load()
	if err != nil {
		return err
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return err
	}
	if c.Out == "" {
		c.Out = filepath.Join(repo, "out", "verify-"+time.Now().Format("20060102-150405"))
	}
	// The generated docs show the default (core) selection, as `docs` does.
	shown := cliflag.Series{Sets: "core"}
	dser, sel, err := shown.Load()
	if err != nil {
		return err
	}
	o := harness.VerifyAllOptions{
		VerifyOptions: harness.VerifyOptions{
			Series: ser, Sets: c.sets.SetList(), Cache: c.cache, Variants: c.Variants,
			StormArgs: c.GuestArgs, StormTimeout: c.Timeout, Out: c.Out, Log: os.Stderr,
		},
		Spec: spec, DocsDir: filepath.Join(repo, "docs"), ShownSeries: dser, ShownSel: sel,
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
