package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/docs"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// VerifyOptions say how to verify one snapshot.
type VerifyOptions struct {
	// Version is the snapshot.
	Version gvisor.Version
	// Series, Sets and Cache select and hold the builds.
	Series *series.Series
	Sets   []string
	Cache  string
	// Variants are the runsc configurations (systrap, no network, say).
	Variants []sandbox.Variant
	// StormArgs and StormTimeout are the storm guest's arguments and
	// deadline.
	StormArgs    []string
	StormTimeout time.Duration
	// MatrixExpected, when set, also runs the matrix under patched runsc,
	// judged with this expected-divergence file.
	MatrixExpected string
	// Out receives the reports, under a directory named by the date;
	// StormOut, when set, is the storm's report directory instead.
	Out, StormOut string
	// Markdown receives the storm's Markdown report; nil discards.
	Markdown io.Writer
	// Log receives progress; nil discards.
	Log io.Writer
}

// VerifyVersion builds stock and patched runsc of one snapshot (each must
// boot), runs the storm natively and under both, and, with
// MatrixExpected, the matrix natively and under patched runsc. What it
// measured, or where it failed, is in the record: failures are recorded,
// not returned. The storm's document is returned too (nil if the storm did
// not run), its reports written under Out.
//
// Nothing waits that need not, on a machine with few cores: the storm runs
// natively while runsc builds, under stock runsc while the patched runsc
// builds, and under patched runsc while the Go tests of the patched gVisor
// packages run (build.Options.DeferTests). The verdict waits for all of
// it, and a patched runsc whose packages fail their tests is neither cached
// nor passed.
func VerifyVersion(ctx context.Context, o VerifyOptions) (docs.Record, *report.Document) {
	v := o.Version
	rec := docs.Record{Version: v.Version, Measured: time.Now().UTC().Format("2006-01-02")}
	out := filepath.Join(o.Out, v.Date())
	storm := Options{
		Guests: []string{"storm"}, GuestArgs: o.StormArgs, Variants: o.Variants,
		Timeout: o.StormTimeout, Out: filepath.Join(out, "storm"), Log: o.Log, Stdout: o.Markdown,
	}
	if o.StormOut != "" {
		storm.Out = o.StormOut
	}
	// The guest is built once, before the native run and the builds'
	// boot checks both want it.
	g, err := guests.Lookup("storm")
	if err != nil {
		rec.Error = err.Error()
		return rec, nil
	}
	repo, err := guests.RepoRoot(".")
	if err == nil {
		b := &guests.Builder{RepoRoot: repo, OutDir: filepath.Join(repo, "out", "guests"), Log: o.Log}
		var bin string
		if bin, err = b.Build(ctx, g); err == nil {
			storm.Binaries = map[string]string{"storm": bin}
		}
	}
	if err != nil {
		rec.Error = err.Error()
		return rec, nil
	}
	// Every part runs in a goroutine of its own, none outlives this
	// function, and a failed build stops them.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	native := collectAsync(pctx, storm, true)
	var stock <-chan collected
	res, err := Build(ctx, BuildOptions{RepoRoot: repo,
		Version: v.Version, Series: o.Series, Sets: o.Sets, Cache: o.Cache, DeferTests: true, Log: o.Log,
		StockReady: func(a build.Artifact) {
			so := storm
			so.Runscs = []Runsc{{Name: "stock", Kind: report.Stock, Path: a.Path}}
			stock = collectAsync(pctx, so, false)
		},
	})
	if err != nil {
		stop()
		waitAll(native, stock)
		rec.Error = err.Error()
		return rec, nil
	}
	rec.StockStamp, rec.PatchedStamp = "runsc version "+res.Stock.Stamp, "runsc version "+res.Patched.Stamp
	rec.SeriesID, rec.StockBoot, rec.PatchedBoot = res.SeriesID, res.Stock.Booted, res.Patched.Booted
	rec.NeedsCompat = res.StockSeriesID != ""
	fmt.Fprintf(orDiscard(o.Log), "stock   runsc %s: %s\npatched runsc %s: %s\n", res.Stock.Stamp, res.Stock.Path, res.Patched.Stamp, res.Patched.Path)
	var doc *report.Document
	if storm.Done, err = waitAll(native, stock); err != nil {
		err = fmt.Errorf("storm: %w", err)
	} else {
		storm.Runscs = Runscs(res)
		if doc, err = Run(ctx, storm); err != nil {
			err = fmt.Errorf("storm: %w", err)
		}
	}
	// The patched packages' tests: a failure there fails the snapshot
	// even when the storm passed.
	if terr := res.Finish(); terr != nil && err == nil {
		err = terr
	}
	if err != nil {
		rec.Error = err.Error()
		return rec, doc
	}
	rec.Cases = docs.StormCases(doc)
	if o.MatrixExpected != "" {
		rec.Matrix = matrixRecord(ctx, o, Runscs(res)[1:], filepath.Join(out, "matrix"))
	}
	return rec, doc
}

// collected is what Collect returned, sent from its goroutine.
type collected struct {
	runs []report.Run
	err  error
}

// collectAsync runs Collect(ctx, o, native) in a goroutine and delivers
// its result on the channel.
func collectAsync(ctx context.Context, o Options, native bool) <-chan collected {
	ch := make(chan collected, 1)
	go func() {
		runs, err := Collect(ctx, o, native)
		ch <- collected{runs, err}
	}()
	return ch
}

// waitAll waits for every started (non-nil) collection and joins their
// runs and errors.
func waitAll(chs ...<-chan collected) ([]report.Run, error) {
	var runs []report.Run
	var errs []error
	for _, ch := range chs {
		if ch == nil {
			continue
		}
		c := <-ch
		runs = append(runs, c.runs...)
		errs = append(errs, c.err)
	}
	return runs, errors.Join(errs...)
}

// matrixRecord runs the matrix under the patched runsc and condenses the
// comparison.
func matrixRecord(ctx context.Context, o VerifyOptions, patched []Runsc, out string) *docs.MatrixRecord {
	m := &docs.MatrixRecord{}
	exp, err := report.LoadExpected(o.MatrixExpected)
	if err != nil {
		m.Failure = err.Error()
		return m
	}
	doc, err := Run(ctx, Options{
		Guests: []string{"matrix"}, Runscs: patched, Variants: o.Variants, Expected: exp,
		Timeout: 3 * time.Minute, Out: out, Log: o.Log,
	})
	if err != nil {
		m.Failure = err.Error()
		return m
	}
	for _, s := range doc.Summaries {
		if s.Kind != report.Patched {
			continue
		}
		m.Cells += s.Cells
		m.Divergences += s.Divergences
		m.Unexpected += s.Unexpected
		if s.Failure != "" {
			m.Failure = s.Failure
		}
	}
	for _, d := range doc.Divergences {
		if d.Kind == report.Patched && d.Expected == "" {
			m.UnexpectedCells = append(m.UnexpectedCells, d.Shape+" ("+d.Disposition+")")
		}
	}
	for _, e := range doc.Stale {
		m.Stale = append(m.Stale, e.Shape+" ("+e.Disposition+")")
	}
	return m
}

// VerifyAllOptions say which snapshots VerifyAll verifies and where the
// records and generated docs go.
type VerifyAllOptions struct {
	VerifyOptions
	// Spec names the snapshots to verify, one after another: "all" or a
	// comma-separated list of versions, dates or "latest".
	Spec string
	// DocsDir holds affected-versions.json, which each record joins as
	// soon as it is measured, and the generated docs, rewritten at the
	// end with ShownSeries and ShownSel (the patches the table shows).
	DocsDir     string
	ShownSeries *series.Series
	ShownSel    []*series.Patch
	// Command and Sets label the records.
	Command, Sets string
	// AllowStale keeps stale expected.json entries from failing.
	AllowStale bool
	// Stdout receives the table and the verdict.
	Stdout io.Writer
}

// VerifyAll verifies each target (VerifyVersion), records it, rewrites the
// generated docs and prints one table. It fails unless on every target both
// binaries boot, stock diverges where the series map says the version is
// affected, patched matches Linux in the storm, and the matrix (if run) has
// nothing beyond expected.json and no stale entry (unless AllowStale).
func VerifyAll(ctx context.Context, o VerifyAllOptions) error {
	log, stdout := orDiscard(o.Log), orDiscard(o.Stdout)
	known, _, err := KnownVersions(ctx, log)
	if err != nil {
		return err
	}
	targets, err := gvisor.ResolveList(known, o.Spec)
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(o.DocsDir, "affected-versions.json")
	records, err := docs.LoadRecords(jsonPath)
	if err != nil {
		return err
	}
	var bad []string
	for i, v := range targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(log, "\n=== [%d/%d] gVisor %s (%s)\n", i+1, len(targets), v.Version, v.Date())
		vo := o.VerifyOptions
		vo.Version = v
		rec, _ := VerifyVersion(ctx, vo)
		rec.Command, rec.Sets = o.Command, o.Sets
		records[v.Version] = rec
		if err := docs.SaveRecords(jsonPath, records); err != nil {
			return err
		}
		for _, p := range docs.Problems(rec, o.Series, o.AllowStale) {
			bad = append(bad, v.Date()+": "+p)
		}
	}
	if err := docs.Write(ctx, o.DocsDir, o.ShownSeries, o.ShownSel, records, known, false, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	docs.VerifyTable(stdout, targets, records)
	if len(bad) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	fmt.Fprintf(stdout, "verdict: on all %d snapshot(s) both runsc boot, stock leaks EINTR where the series map says it must, patched matches native Linux", len(targets))
	if o.MatrixExpected != "" {
		fmt.Fprint(stdout, ", and the matrix on patched has no divergence beyond expected.json")
	}
	fmt.Fprintln(stdout, ".")
	return nil
}
