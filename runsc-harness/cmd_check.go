package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
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
	var sf cliflag.Series
	sf.Register(fs)
	cliflag.SetUsage(fs, "check [--gvisor V|all] [--sets S] [--test] [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkGVisorSpec("gvisor", *gv, *gv == "all"); err != nil {
		return err
	}
	ser, sel, err := sf.Load()
	if err != nil {
		return err
	}
	vs, _, err := harness.KnownVersions(ctx, os.Stderr)
	if err != nil {
		return err
	}
	if vs, err = gvisor.ResolveList(vs, *gv); err != nil {
		return err
	}
	var rows []build.CheckResult
	bad := 0
	for i, v := range vs {
		fmt.Fprintf(os.Stderr, "[%d/%d] %s@%s: downloading (once; then from the module cache) and applying the series\n", i+1, len(vs), gvisor.ModulePath, v.Version)
		row, err := build.Check(ctx, ser, sel, v, *test, os.Stderr)
		if err != nil {
			return err
		}
		bad += row.Problems()
		rows = append(rows, row)
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		build.WriteCheck(os.Stdout, sel, rows)
	}
	if bad > 0 {
		return fmt.Errorf("%d problem(s) applying the series", bad)
	}
	return nil
}
