package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
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
	var sf seriesFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness versions [--no-patches] [--sets S] [--json]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ser, sel, err := sf.load()
	if err != nil {
		return err
	}
	vs, src, err := knownVersions(ctx, os.Stderr)
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
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "VERSION\tDATE")
	if !*noPatches {
		for _, p := range sel {
			fmt.Fprintf(tw, "\t%s", p.ID)
		}
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s", r.Version.Version, r.Date())
		for _, d := range r.Patches {
			mark := string(d.Status)
			if d.MapDisagrees {
				mark += "!"
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !*noPatches {
		fmt.Println("\napply: the source has the bug and the patch applies; upstream: fixed upstream, skipped;")
		fmt.Println("failed: has the bug but the patch does not apply; not-here: outside the patch's range, without its code;")
		fmt.Println("!: the series map disagrees with the source.")
		for _, p := range sel {
			fmt.Printf("%s  [%s] %s\n", p.ID, p.Set, p.Summary)
		}
	}
	return nil
}
