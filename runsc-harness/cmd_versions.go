package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

func init() {
	register(&command{
		name:     "versions",
		synopsis: "list gVisor snapshots and which patches of the series each needs",
		run:      runVersions,
	})
}

// versionRow is one snapshot with the series' decisions for it.
type versionRow struct {
	gvisor.Version
	Patches []series.Decision `json:"patches,omitempty"`
}

func runVersions(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("versions", flag.ContinueOnError)
	noPatches := fs.Bool("no-patches", false, "only list the versions (no download, no patch check)")
	jsonOut := fs.Bool("json", false, "print JSON")
	var sf cliflag.Series
	sf.Register(fs)
	cliflag.SetUsage(fs, "versions [--no-patches] [--sets S] [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ser, sel, err := sf.Load()
	if err != nil {
		return err
	}
	vs, src, err := harness.KnownVersions(ctx, os.Stderr)
	if err != nil {
		return err
	}
	rows := make([]versionRow, 0, len(vs))
	for i, v := range vs {
		row := versionRow{Version: v}
		if !*noPatches {
			fmt.Fprintf(os.Stderr, "[%d/%d] %s@%s (downloaded once, then from the module cache)\n", i+1, len(vs), gvisor.ModulePath, v.Version)
			mod, err := gvisor.Download(ctx, v.Version)
			if err != nil {
				return err
			}
			if row.Patches, err = ser.Plan(ctx, mod.Dir, v.Version, sel); err != nil {
				return err
			}
		}
		rows = append(rows, row)
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Source   gvisor.Source `json:"source"`
			Versions []versionRow  `json:"versions"`
		}{src, rows})
	}
	plans := make([][]series.Decision, len(rows))
	for i, r := range rows {
		plans[i] = r.Patches
	}
	return series.WriteVersions(os.Stdout, vs, sel, plans, !*noPatches)
}
