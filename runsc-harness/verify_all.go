package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	harnesslib "github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// matrixExpected is the matrix's list of expected divergences, relative to
// the repository root.
const matrixExpected = "syscalltests/matrix/expected.json"

// matrixRecord is the matrix under patched runsc of one version, judged
// against native Linux and matrixExpected.
type matrixRecord struct {
	Cells       int `json:"cells"`
	Divergences int `json:"divergences"`
	Unexpected  int `json:"unexpected"`
	// UnexpectedCells names the cells that diverge beyond matrixExpected.
	UnexpectedCells []string `json:"unexpected_cells,omitempty"`
	// Stale names expected.json entries for patched runsc that did not
	// diverge on this snapshot.
	Stale []string `json:"stale_expected,omitempty"`
	// Failure is set when the matrix could not run.
	Failure string `json:"failure,omitempty"`
}

// verifyVersions is `verify` for several versions (--gvisor all, or a
// list): one after another, each built (both binaries must boot), stormed
// natively and under stock and patched runsc, and with withMatrix the
// matrix run natively and under patched runsc. Each version's record goes
// into docs/affected-versions.json as soon as it is measured, and
// docs/affected-versions.md is regenerated at the end. It fails unless on
// every version both binaries boot, stock diverges where the series map
// says the version is affected, patched matches Linux in the storm, and the
// matrix has nothing beyond matrixExpected.
func verifyVersions(ctx context.Context, spec string, c *runConfig, withMatrix bool, stormArgs []string, stormTimeout time.Duration) error {
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
	boot, err := bootCheck(ctx, c.cache)
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
	records, err := loadStormRecords(jsonPath)
	if err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(repo, "out", "verify-"+time.Now().Format("20060102-150405"))
	}
	command := "runsc-harness verify --gvisor " + spec + " --sets " + c.sets.sets
	if withMatrix {
		command += " --matrix"
	}
	if len(stormArgs) > 0 {
		command += " --duration " + stormArgs[1]
	}
	var bad []string
	for i, v := range targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(os.Stderr, "\n=== [%d/%d] gVisor %s (%s)\n", i+1, len(targets), v.Version, v.Date())
		rec := verifyOne(ctx, v, ser, c, boot, withMatrix, stormArgs, stormTimeout, filepath.Join(repo, matrixExpected))
		rec.Command = command
		records[v.Version] = rec
		if err := saveStormRecords(jsonPath, records); err != nil {
			return err
		}
		for _, p := range recordProblems(rec, ser) {
			bad = append(bad, v.Date()+": "+p)
		}
	}
	if err := writeDocs(ctx, docsDir, &c.sets, records, vs); err != nil {
		return err
	}
	fmt.Println()
	printVerifyTable(os.Stdout, targets, records)
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

// verifyOne measures one version. Failures are recorded, not returned.
func verifyOne(ctx context.Context, v gvisor.Version, ser *series.Series, c *runConfig, boot build.BootFunc, withMatrix bool, stormArgs []string, stormTimeout time.Duration, expected string) stormRecord {
	rec := stormRecord{Version: v.Version, Measured: time.Now().UTC().Format("2006-01-02"), Sets: c.sets.sets}
	res, err := build.Build(ctx, build.Options{
		Version: v.Version, Series: ser, Sets: c.sets.setList(), CacheDir: c.cache, Progress: os.Stderr, Boot: boot,
	})
	runscs := harnesslib.Runscs(res)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.StockStamp, rec.PatchedStamp = "runsc version "+res.Stock.Stamp, "runsc version "+res.Patched.Stamp
	rec.SeriesID, rec.StockBoot, rec.PatchedBoot = res.SeriesID, res.Stock.Booted, res.Patched.Booted
	rec.NeedsCompat = res.StockSeriesID != ""
	out := filepath.Join(c.out, v.Date())
	doc, err := harnesslib.Run(ctx, harnesslib.Options{
		Guests: []string{"storm"}, GuestArgs: stormArgs, Runscs: runscs, Variants: c.variants,
		Timeout: stormTimeout, Out: filepath.Join(out, "storm"), Log: os.Stderr,
	})
	if err != nil {
		rec.Error = "storm: " + err.Error()
		return rec
	}
	rec.Cases = stormResults(doc)
	if !withMatrix {
		return rec
	}
	rec.Matrix = &matrixRecord{}
	exp, err := report.LoadExpected(expected)
	if err != nil {
		rec.Matrix.Failure = err.Error()
		return rec
	}
	doc, err = harnesslib.Run(ctx, harnesslib.Options{
		Guests: []string{"matrix"}, Runscs: runscs[1:], Variants: c.variants, Expected: exp,
		Timeout: 3 * time.Minute, Out: filepath.Join(out, "matrix"), Log: os.Stderr,
	})
	if err != nil {
		rec.Matrix.Failure = err.Error()
		return rec
	}
	for _, s := range doc.Summaries {
		if s.Kind != report.Patched {
			continue
		}
		rec.Matrix.Cells += s.Cells
		rec.Matrix.Divergences += s.Divergences
		rec.Matrix.Unexpected += s.Unexpected
		if s.Failure != "" {
			rec.Matrix.Failure = s.Failure
		}
	}
	for _, d := range doc.Divergences {
		if d.Kind == report.Patched && d.Expected == "" {
			rec.Matrix.UnexpectedCells = append(rec.Matrix.UnexpectedCells, d.Shape+" ("+d.Disposition+")")
		}
	}
	for _, e := range doc.Stale {
		rec.Matrix.Stale = append(rec.Matrix.Stale, e.Shape+" ("+e.Disposition+")")
	}
	return rec
}

// stormResults condenses a storm document to one row per case.
func stormResults(doc *report.Document) []stormResult {
	kinds := map[string]report.Kind{}
	for _, v := range doc.Variants {
		kinds[v.Name] = v.Kind
	}
	var out []stormResult
	for _, cell := range doc.Cells {
		sr := stormResult{Shape: cell.Shape}
		for _, o := range cell.Outcomes {
			s := stormSide(o.Runsc, o.Error)
			if o.Diverges {
				s += " (differs from Linux)"
			}
			if kinds[o.Variant] == report.Stock {
				sr.Stock = s
			} else {
				sr.Patched = s
			}
		}
		out = append(out, sr)
	}
	return out
}

// recordProblems lists what keeps a version's record from proving the
// series there.
func recordProblems(rec stormRecord, ser *series.Series) []string {
	if rec.Error != "" {
		return []string{firstLine(rec.Error)}
	}
	var out []string
	if rec.StockBoot == "" || rec.PatchedBoot == "" {
		out = append(out, "a binary has no boot record")
	}
	affected := false
	for _, p := range ser.Patches {
		if !ser.IsBaseline(p) && p.MapSaysAffected(rec.Version) {
			affected = true
		}
	}
	if n := sumBad(rec.Cases, true); affected && n == 0 {
		out = append(out, "the series map says affected, but stock runsc did not diverge in the storm")
	}
	if n := sumBad(rec.Cases, false); n > 0 {
		out = append(out, fmt.Sprintf("patched runsc diverges from native Linux in %d storm case(s)", n))
	}
	if m := rec.Matrix; m != nil {
		if m.Failure != "" {
			out = append(out, "matrix: "+firstLine(m.Failure))
		}
		if m.Unexpected > 0 {
			out = append(out, fmt.Sprintf("matrix on patched: %d divergence(s) beyond expected.json: %s", m.Unexpected, strings.Join(m.UnexpectedCells, ", ")))
		}
	}
	return out
}
