package main

import (
	"context"
	"flag"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
)

func init() {
	register(&command{
		name:     "docs",
		synopsis: "generate docs/affected-versions.md and docs/upstreaming.md from the series and the recorded runs",
		run:      runDocs,
	})
}

// runDocs regenerates the generated documents from the series and
// docs/affected-versions.json, which `verify --gvisor V1,V2|all` fills.
func runDocs(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	dir := fs.String("dir", "docs", "documentation directory")
	check := fs.Bool("check", false, "do not write: fail if the files on disk differ from what would be generated")
	var sf cliflag.Series
	sf.Register(fs)
	cliflag.SetUsage(fs, "docs [--check] [--dir DIR] [--sets S]", "The run columns come from DIR/affected-versions.json; fill it with\n`runsc-harness verify --gvisor all --sets core,parity --matrix`.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ser, sel, err := sf.Load()
	if err != nil {
		return err
	}
	return harness.WriteDocs(ctx, *dir, ser, sel, *check, os.Stderr)
}
