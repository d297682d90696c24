package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/docs"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
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
	c := &runConfig{guests: []string{"storm"}, timeout: 3 * time.Minute}
	fs.StringVar(&c.gvisor, "gvisor", defaultGVisor, "gVisor version: a module version, a date (YYYY-MM-DD) or latest; all, or a comma-separated list, verifies each in turn and records the table in docs/affected-versions.{json,md}")
	allowStale := fs.Bool("allow-stale-expected", false, "with --matrix: an expected.json entry that no longer diverges on a snapshot is recorded but does not fail the run (old snapshots)")
	withMatrix := fs.Bool("matrix", false, "with several versions: also run the signal(7) matrix under patched runsc, judged with syscalltests/matrix/expected.json (use --sets core,parity)")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE)")
	platform := fs.String("platform", "systrap", "runsc platform: systrap or ptrace")
	duration := fs.Duration("duration", 0, "storm duration per case (default: the storm's own, 6s)")
	fs.StringVar(&c.out, "out", "", "output directory for reports (default out/run-TIMESTAMP under the repository)")
	c.sets.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness verify [--gvisor V|all|V1,V2] [--sets S] [--matrix] [--platform P] [--duration D]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := sandbox.Variant{Platform: *platform, Network: "none", DirectFS: "default"}
	if err := v.Validate(); err != nil {
		return usagef("--platform: %v", err)
	}
	if err := checkGVisorSpec("gvisor", c.gvisor, true); err != nil {
		return err
	}
	if _, _, err := c.sets.load(); err != nil {
		return err
	}
	if *duration < 0 {
		return usagef("--duration must not be negative")
	}
	c.variants = []sandbox.Variant{v}
	if *duration > 0 {
		// The storm runs its three cases one after the other; its own
		// deadline and the harness's must leave room for all three.
		guestTimeout := 3**duration + 30*time.Second
		c.guestArgs = []string{"-duration", duration.String(), "-timeout", guestTimeout.String()}
		c.timeout = guestTimeout + time.Minute
	}
	if c.gvisor == "all" || strings.Contains(c.gvisor, ",") {
		return verifyVersions(ctx, c.gvisor, c, *withMatrix, *allowStale)
	}
	if *withMatrix {
		return usagef("--matrix goes with several versions (--gvisor all or a list)")
	}
	d, err := runGuests(ctx, c)
	if err != nil {
		return err
	}
	return verdict(os.Stdout, d)
}

// verdict prints the storm side by side (native, stock, patched) and says
// whether the run proved the fix: stock must diverge somewhere (the storm
// caught the bug) and patched nowhere.
func verdict(w io.Writer, d *report.Document) error {
	kinds := map[string]report.Kind{}
	var names []string
	for _, v := range d.Variants {
		kinds[v.Name] = v.Kind
		names = append(names, v.Name)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "case\tnative\t%s\n", strings.Join(names, "\t"))
	diverged := map[report.Kind]int{}
	for _, cell := range d.Cells {
		fmt.Fprintf(tw, "%s\t%s", cell.Shape, docs.StormSide(cell.Native, ""))
		for _, o := range cell.Outcomes {
			mark := ""
			if o.Diverges {
				mark = " ✗"
				diverged[kinds[o.Variant]]++
			}
			fmt.Fprintf(tw, "\t%s", docs.StormSide(o.Runsc, o.Error)+mark)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n(result: EINTR returned / interrupted calls; ✗ differs from native Linux)")
	var errs []string
	for _, s := range d.Summaries {
		if s.Failure != "" {
			errs = append(errs, fmt.Sprintf("%s run failed: %s", s.Variant, s.Failure))
		}
	}
	if diverged[report.Patched] > 0 {
		errs = append(errs, fmt.Sprintf("patched runsc diverges from native Linux in %d case(s)", diverged[report.Patched]))
	}
	if diverged[report.Stock] == 0 && len(errs) == 0 {
		errs = append(errs, "stock runsc did not diverge: the storm caught nothing on this version, so it proves nothing here")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	fmt.Fprintf(w, "verdict: stock runsc leaks EINTR in %d case(s); patched runsc matches native Linux.\n", diverged[report.Stock])
	return nil
}
