package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// CheckResult is the outcome of applying the series to one snapshot
// without building runsc.
type CheckResult struct {
	Version string            `json:"version"`
	Date    string            `json:"date"`
	Patches []series.Decision `json:"patches"`
	// NeedsCompat is set when the snapshot needs a baseline (compat)
	// patch: built with this toolchain as published, its runsc does not run.
	NeedsCompat bool `json:"needs_compat"`
	// Error is set when the series could not be applied as planned, or
	// (with tests) the go test output of the failing packages.
	Error string `json:"error,omitempty"`
	// Tests is the go test outcome with tests: "ok", "FAIL", "none to
	// run" (no applied patch changes Go code) or "" (not asked).
	Tests string `json:"tests,omitempty"`
}

// Problems counts what is wrong in r: a patch that did not apply, failed
// tests, and each patch on which the series map and the source disagree.
func (r CheckResult) Problems() int {
	n := 0
	if r.Error != "" || r.Tests == "FAIL" {
		n++
	}
	for _, d := range r.Patches {
		if d.MapDisagrees {
			n++
		}
	}
	return n
}

// Check applies the selected patches (the baseline first) to a scratch
// copy of version v's source: only the files the patches touch, or, with
// test, the whole tree, whose patched packages' Go tests then run with the
// same protections as a build's (they die with the harness). A patch that
// does not apply is reported in the result, not returned as an error.
func Check(ctx context.Context, ser *series.Series, sel []*series.Patch, v gvisor.Version, test bool, progress io.Writer) (CheckResult, error) {
	row := CheckResult{Version: v.Version, Date: v.Date()}
	mod, err := gvisor.Download(ctx, v.Version)
	if err != nil {
		return row, err
	}
	tmp, err := os.MkdirTemp("", "restartsys-check-")
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "src")
	if test {
		err = fscopy.Tree(mod.Dir, tree)
	} else {
		// Plan reads the detect files from the tree; ApplyPlan needs the
		// files the patches touch.
		err = copyTouched(ser, sel, mod.Dir, tree)
	}
	if err != nil {
		return row, err
	}
	if row.Patches, err = ser.Plan(ctx, tree, v.Version, sel); err != nil {
		return row, err
	}
	for _, d := range row.Patches {
		if d.Status == series.Apply && ser.IsBaseline(d.Patch) {
			row.NeedsCompat = true
		}
	}
	if err := ser.ApplyPlan(ctx, tree, v.Version, row.Patches); err != nil {
		var ae *series.ApplyError
		if !errors.As(err, &ae) {
			return row, err
		}
		row.Error = err.Error()
		return row, nil
	}
	if !test {
		return row, nil
	}
	if progress == nil {
		progress = io.Discard
	}
	var applied []*series.Patch
	for _, d := range row.Patches {
		if d.Status == series.Apply {
			applied = append(applied, d.Patch)
		}
	}
	if len(ser.Packages(applied)) == 0 {
		row.Tests = "none to run"
		return row, nil
	}
	b := &builder{opts: Options{Series: ser, Version: v.Version}, progress: progress, start: time.Now(), tmp: tmp}
	row.Tests = "ok"
	if err := b.testPatched(ctx, tree, row.Patches); err != nil {
		if ctx.Err() != nil {
			return row, ctx.Err()
		}
		row.Tests, row.Error = "FAIL", err.Error()
	}
	return row, nil
}

// copyTouched copies from src to dst the detect file and the files of
// every selected patch that exist in src.
func copyTouched(ser *series.Series, sel []*series.Patch, src, dst string) error {
	files := map[string]bool{}
	for _, p := range sel {
		files[p.Detect.File] = true
		for _, f := range ser.Files(p) {
			files[f] = true
		}
	}
	for f := range files {
		from := filepath.Join(src, filepath.FromSlash(f))
		if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
			continue // Plan reports the missing file.
		}
		to := filepath.Join(dst, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := fscopy.File(from, to, 0o644); err != nil {
			return fmt.Errorf("copying %s: %w", f, err)
		}
	}
	return os.MkdirAll(dst, 0o755)
}

// WriteCheck prints check results as a table: per snapshot whether it
// needs the compat set, what became of each selected patch, and the result.
func WriteCheck(w io.Writer, sel []*series.Patch, rows []CheckResult) {
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
			result = "FAILED: " + firstLine(r.Error)
		}
		if r.Tests != "" {
			result += ", tests " + r.Tests
		}
		fmt.Fprintf(tw, "\t%s\n", result)
	}
	tw.Flush()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
