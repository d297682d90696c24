package suitereport

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Cell renders one place's counts as pass/fail/skip, with hangs, crashes
// and errors named after them; "-" when the place did not run.
func Cell(c Counts, ok bool) string {
	if !ok {
		return "-"
	}
	s := fmt.Sprintf("%d/%d/%d", c.Pass, c.Fail, c.Skip)
	for _, x := range []struct {
		n    int
		name string
	}{{c.Hang, "hang"}, {c.Crash, "crash"}, {c.Error, "error"}} {
		if x.n > 0 {
			s += fmt.Sprintf(" +%d %s", x.n, x.name)
		}
	}
	return s
}

// maxListed is how many not-passed cases per file and place the table
// names.
const maxListed = 10

// WriteTable prints the per-file table (pass/fail/skip per place), the
// files that did not compile, the regressions and the verdict.
func (r *Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\tcases\t%s\n", strings.Join(withSuffix(r.Places, " p/f/s"), "\t"))
	for _, f := range r.Files {
		if f.CompileError != "" {
			continue
		}
		cells := []string{f.Target, fmt.Sprint(f.Cases)}
		for _, p := range r.Places {
			c, ok := f.Counts[p]
			cells = append(cells, Cell(c, ok))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if bad := r.notCompiled(); len(bad) > 0 {
		fmt.Fprintf(w, "\n%d file(s) did not compile or link (not run):\n", len(bad))
		for _, f := range bad {
			fmt.Fprintf(w, "  %s (%s): %s\n", f.Target, strings.Join(f.Srcs, " "), f.CompileError)
		}
	}
	if len(r.UtilErrors) > 0 {
		fmt.Fprintln(w, "\ntest/util sources that did not compile (left out of the archive):")
		for _, k := range sortedKeys(r.UtilErrors) {
			fmt.Fprintf(w, "  %s: %s\n", k, r.UtilErrors[k])
		}
	}
	for _, f := range r.Files {
		for _, p := range r.Places {
			cases := sortedKeys(f.NotPassed[p])
			for i, c := range cases {
				if i == maxListed {
					fmt.Fprintf(w, "  %s %s: and %d more case(s) not passed (see --json)\n", p, f.Target, len(cases)-i)
					break
				}
				fmt.Fprintf(w, "  %s %s %s: %s\n", p, f.Target, c, f.NotPassed[p][c])
			}
		}
		for _, c := range f.Flaky {
			fmt.Fprintf(w, "  flaky: %s %s failed on patched in its shard, passed alone\n", f.Target, c)
		}
	}
	if len(r.NotRun) > 0 {
		fmt.Fprintf(w, "\n%d selected file(s) not run (time budget spent): %s\n", len(r.NotRun), strings.Join(r.NotRun, " "))
	}
	regs := r.Regressions()
	for _, c := range regs {
		fmt.Fprintf(w, "✗ regression: %s passes on stock, not on patched\n", c)
	}
	switch {
	case r.Ran() == 0:
		fmt.Fprintln(w, "verdict: FAIL: no test file ran")
	case len(regs) > 0:
		fmt.Fprintf(w, "verdict: FAIL: %d case(s) pass on stock and fail on patched runsc\n", len(regs))
	default:
		fmt.Fprintf(w, "verdict: every case that passes on stock runsc %s passes on patched (%d file(s) ran, %d did not compile)\n", r.Version, r.Ran(), len(r.notCompiled()))
	}
}

func (r *Result) notCompiled() []*File {
	var out []*File
	for _, f := range r.Files {
		if f.CompileError != "" {
			out = append(out, f)
		}
	}
	return out
}

// Totals sums the counts of every file per place.
func (r *Result) Totals() map[string]Counts {
	t := map[string]Counts{}
	for _, f := range r.Files {
		for p, c := range f.Counts {
			s := t[p]
			s.Pass += c.Pass
			s.Fail += c.Fail
			s.Skip += c.Skip
			s.Hang += c.Hang
			s.Crash += c.Crash
			s.Error += c.Error
			t[p] = s
		}
	}
	return t
}

func withSuffix(ss []string, suffix string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s + suffix
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
