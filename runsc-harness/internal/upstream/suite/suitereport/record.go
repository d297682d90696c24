package suitereport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
)

// RecordFile is where `upstream suite --record` keeps its results, in the
// repository's docs directory; docs/upstreaming.md shows them.
const RecordFile = "upstream-suite.json"

// Run is one invocation that contributed to a record.
type Run struct {
	// Measured is the day it ran (YYYY-MM-DD); Command what ran; Wall its
	// wall time; Files how many test files it selected.
	Measured string `json:"measured"`
	Command  string `json:"command"`
	Wall     string `json:"wall"`
	Files    int    `json:"files"`
}

// Record is the recorded suite result of one checkout commit against one
// pair of runsc builds, possibly made of several runs over different
// files.
type Record struct {
	Runs   []Run   `json:"runs"`
	Result *Result `json:"result"`
}

// LoadRecord reads the record at path; a missing file is nil and no error.
func LoadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rec.Result == nil {
		return nil, fmt.Errorf("%s: no result", path)
	}
	return &rec, nil
}

// Merge adds run and its result to rec; a merged record counts the
// files neither run ran as not selected. If rec is of the same commit,
// platform and runsc builds, the new files replace those of the same
// target and the others stay; otherwise the new result replaces rec's.
func Merge(rec *Record, run Run, res *Result) *Record {
	same := rec != nil && rec.Result.Commit == res.Commit && rec.Result.Stock == res.Stock &&
		rec.Result.Patched == res.Patched && rec.Result.Platform == res.Platform
	if !same {
		out := &Record{Runs: []Run{run}, Result: res}
		res.Sort()
		return out
	}
	byTarget := map[string]*File{}
	for _, f := range rec.Result.Files {
		byTarget[f.Target] = f
	}
	for _, f := range res.Files {
		byTarget[f.Target] = f
	}
	merged := *res
	merged.Files = nil
	for _, f := range byTarget {
		merged.Files = append(merged.Files, f)
	}
	merged.UtilErrors = res.UtilErrors
	// Of the checkout's files, those in no run are not run.
	merged.NotSelected = merged.Total - len(merged.Files)
	merged.NotRun = nil
	merged.Sort()
	return &Record{Runs: append(append([]Run(nil), rec.Runs...), run), Result: &merged}
}

// SaveRecord writes rec to path atomically (fscopy.WriteJSON).
func SaveRecord(path string, rec *Record) error {
	return fscopy.WriteJSON(path, rec)
}

// RenderSection writes the section of docs/upstreaming.md about gVisor's
// own suite from docsDir/RecordFile, or says that no run is recorded.
func RenderSection(w io.Writer, docsDir string) error {
	rec, err := LoadRecord(filepath.Join(docsDir, RecordFile))
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n## gVisor's own syscall suite as a regression guard")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`runsc-harness upstream suite --gvisor-src DIR` compiles the `test/syscalls/linux` tests of a gVisor")
	fmt.Fprintln(w, "checkout with Debian's g++, GoogleTest and Abseil and the checkout's own `test/util`, and runs them")
	fmt.Fprintln(w, "natively, under stock and under patched runsc. It passes only if every case that passes on stock")
	fmt.Fprintln(w, "passes on patched. CI has no gVisor checkout; the results below are from [docs/"+RecordFile+"]("+RecordFile+").")
	if rec == nil {
		fmt.Fprintln(w, "\nNo run is recorded yet: run it with `--record` where a checkout exists.")
		return nil
	}
	r := rec.Result
	fmt.Fprintf(w, "\ngVisor commit `%s`; runsc `%s` (stock) and `%s` (patched), platform %s; %s.\n", r.Commit, r.Stock, r.Patched, r.Platform, r.Toolchain)
	fmt.Fprintln(w, "\nRuns:")
	fmt.Fprintln(w)
	for _, run := range rec.Runs {
		fmt.Fprintf(w, "- %s, %d file(s), %s: `%s`\n", run.Measured, run.Files, run.Wall, run.Command)
	}
	t := r.Totals()
	fmt.Fprintf(w, "\n%d test file(s) recorded, %d ran, %d did not compile, %d of the checkout not run. Cases pass/fail/skip:", len(r.Files), r.Ran(), len(r.notCompiled()), r.NotSelected)
	for _, p := range r.Places {
		fmt.Fprintf(w, " %s %s;", p, Cell(t[p], true))
	}
	if regs := r.Regressions(); len(regs) > 0 {
		fmt.Fprintf(w, " **%d regression(s)**: `%s`.\n", len(regs), strings.Join(regs, "`, `"))
	} else {
		fmt.Fprintln(w, " no case that passes on stock fails on patched.")
	}
	fmt.Fprintf(w, "\n| file | cases | %s |\n|---|---:|%s\n", strings.Join(withSuffix(r.Places, " p/f/s"), " | "), strings.Repeat("---|", len(r.Places)))
	for _, f := range r.Files {
		if f.CompileError != "" {
			continue
		}
		cells := []string{"`" + f.Target + "`", fmt.Sprint(f.Cases)}
		for _, p := range r.Places {
			c, ok := f.Counts[p]
			cells = append(cells, Cell(c, ok))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	if bad := r.notCompiled(); len(bad) > 0 {
		fmt.Fprintln(w, "\nNot compiled (first error):")
		fmt.Fprintln(w)
		for _, f := range bad {
			fmt.Fprintf(w, "- `%s`: %s\n", f.Target, strings.ReplaceAll(f.CompileError, "`", "'"))
		}
	}
	return nil
}
