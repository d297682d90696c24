package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/docs"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

func init() {
	register(&command{
		name:     "check",
		synopsis: "apply the series to every known gVisor snapshot (no runsc build) and report",
		run:      runCheck,
	})
}

func runCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	gv := fs.String("gvisor", "all", "a version, date or latest; all for every known snapshot")
	test := fs.Bool("test", false, "also run the Go tests of the patched packages (copies whole trees; slower)")
	jsonOut := fs.Bool("json", false, "print JSON")
	var sf seriesFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness check [--gvisor V|all] [--sets S] [--test] [--json]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *gv != "all" {
		if err := checkGVisorSpec("gvisor", *gv, false); err != nil {
			return err
		}
	}
	ser, sel, err := sf.load()
	if err != nil {
		return err
	}
	vs, _, err := knownVersions(ctx, os.Stderr)
	if err != nil {
		return err
	}
	if *gv != "all" {
		v, err := gvisor.Resolve(vs, *gv)
		if err != nil {
			return err
		}
		vs = []gvisor.Version{v}
	}
	var rows []build.CheckResult
	bad := 0
	for i, v := range vs {
		fmt.Fprintf(os.Stderr, "[%d/%d] %s@%s: downloading (once; then from the module cache) and applying the series\n", i+1, len(vs), gvisor.ModulePath, v.Version)
		row, err := build.Check(ctx, ser, sel, v, *test, os.Stderr)
		if err != nil {
			return err
		}
		if row.Error != "" || row.Tests == "FAIL" {
			bad++
		}
		for _, d := range row.Patches {
			if d.MapDisagrees {
				bad++
			}
		}
		rows = append(rows, row)
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		printCheck(os.Stdout, ser, sel, rows)
	}
	if bad > 0 {
		return fmt.Errorf("%d problem(s) applying the series", bad)
	}
	return nil
}

func printCheck(w io.Writer, ser *series.Series, sel []*series.Patch, rows []build.CheckResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "VERSION\tDATE\tCOMPAT")
	for _, p := range sel {
		fmt.Fprintf(tw, "\t%s", p.ID)
	}
	fmt.Fprintln(tw, "\tRESULT")
	for _, r := range rows {
		compat := "not needed"
		if r.NeedsCompat {
			compat = "needed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", r.Version, r.Date, compat)
		for _, d := range r.Patches {
			mark := map[series.Status]string{series.Apply: "applied", series.Upstream: "already upstream", series.Failed: "FAILED", series.NotHere: "n/a"}[d.Status]
			if d.MapDisagrees {
				mark += " (map disagrees)"
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		result := "ok"
		if r.Error != "" {
			result = "FAILED: " + docs.FirstLine(r.Error)
		}
		if r.Tests != "" {
			result += ", tests " + r.Tests
		}
		fmt.Fprintf(tw, "\t%s\n", result)
	}
	tw.Flush()
}
