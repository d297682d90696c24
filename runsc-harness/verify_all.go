package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/docs"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	harnesslib "github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// matrixExpected is the matrix's list of expected divergences, relative to
// the repository root.
const matrixExpected = "syscalltests/matrix/expected.json"

// verifyVersions is `verify` for several versions (--gvisor all, or a
// list): one after another, each verified by harness.VerifyVersion. Each
// record goes into docs/affected-versions.json as soon as it is measured,
// and the generated docs are rewritten at the end. It fails unless on every
// version both binaries boot, stock diverges where the series map says the
// version is affected, patched matches Linux in the storm, and the matrix
// (withMatrix) has nothing beyond expected.json and no stale entry (unless
// allowStale).
func verifyVersions(ctx context.Context, spec string, c *runConfig, withMatrix, allowStale bool) error {
	if err := sandbox.CheckRoot(); err != nil {
		return err
	}
	ser, _, err := c.sets.load()
	if err != nil {
		return err
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return err
	}
	vs, _, err := knownVersions(ctx, os.Stderr)
	if err != nil {
		return err
	}
	targets := vs
	if spec != "all" {
		targets = nil
		for _, s := range strings.Split(spec, ",") {
			v, err := gvisor.Resolve(vs, strings.TrimSpace(s))
			if err != nil {
				return err
			}
			targets = append(targets, v)
		}
	}
	docsDir := filepath.Join(repo, "docs")
	jsonPath := filepath.Join(docsDir, "affected-versions.json")
	records, err := docs.LoadRecords(jsonPath)
	if err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(repo, "out", "verify-"+time.Now().Format("20060102-150405"))
	}
	o := harnesslib.VerifyOptions{
		Series: ser, Sets: c.sets.setList(), Cache: c.cache, Variants: c.variants,
		StormArgs: c.guestArgs, StormTimeout: c.timeout, Out: c.out, Log: os.Stderr,
	}
	command := "runsc-harness verify --gvisor " + spec + " --sets " + c.sets.sets
	if withMatrix {
		o.MatrixExpected = filepath.Join(repo, matrixExpected)
		command += " --matrix"
	}
	if len(c.guestArgs) > 1 {
		command += " --duration " + c.guestArgs[1]
	}
	var bad []string
	for i, v := range targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(os.Stderr, "\n=== [%d/%d] gVisor %s (%s)\n", i+1, len(targets), v.Version, v.Date())
		o.Version = v
		rec := harnesslib.VerifyVersion(ctx, o)
		rec.Command, rec.Sets = command, c.sets.sets
		records[v.Version] = rec
		if err := docs.SaveRecords(jsonPath, records); err != nil {
			return err
		}
		for _, p := range docs.Problems(rec, ser, allowStale) {
			bad = append(bad, v.Date()+": "+p)
		}
	}
	// The generated docs show the default (core) selection, as `docs` does.
	var shown seriesFlags
	shown.sets = "core"
	dser, sel, err := shown.load()
	if err != nil {
		return err
	}
	if err := docs.Write(ctx, docsDir, dser, sel, records, vs, false, os.Stderr); err != nil {
		return err
	}
	fmt.Println()
	docs.VerifyTable(os.Stdout, targets, records)
	if len(bad) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	fmt.Printf("verdict: on all %d snapshot(s) both runsc boot, stock leaks EINTR where the series map says it must, patched matches native Linux", len(targets))
	if withMatrix {
		fmt.Print(", and the matrix on patched has no divergence beyond expected.json")
	}
	fmt.Println(".")
	return nil
}
