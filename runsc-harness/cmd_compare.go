package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

func init() {
	register(&command{
		name:     "compare",
		synopsis: "re-render reports from a saved report.json (optionally with new expectations)",
		run:      runCompare,
	})
}

func runCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	in := fs.String("in", "", "report.json written by run (required)")
	out := fs.String("out", "", "output directory (default: the directory of --in)")
	expectedPath := fs.String("expected", "", "JSON file of expected divergences; replaces the list saved in --in")
	cliflag.SetUsage(fs, "compare --in DIR/report.json [--expected FILE] [--out DIR]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return cliflag.Usagef("--in is required")
	}
	if *out == "" {
		*out = filepath.Dir(*in)
	}
	d, err := report.RecompareFile(*in, *expectedPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeReports(d, *out); err != nil {
		return err
	}
	return problems(d)
}

// writeReports writes the reports into dir and prints the Markdown.
func writeReports(d *report.Document, dir string) error {
	return harness.WriteReports(d, dir, os.Stdout, os.Stderr)
}

// errProblems is returned when a run failed or a patched runsc diverges
// from native where no expectation covers it.
var errProblems = errors.New("patched runsc diverges from native, or a run failed")

func problems(d *report.Document) error {
	p := d.Problems()
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", errProblems, strings.Join(p, "\n  "))
}
