// Package suitereport holds the result of `runsc-harness upstream suite`
// (gVisor's own test/syscalls/linux tests natively, under stock and under
// patched runsc): per test file and place the cases passed, failed and
// skipped, the verdict (no case that passes on stock fails on patched),
// the record kept in docs/ and its section of docs/upstreaming.md. It
// imports nothing of the harness, so that internal/docs can render it.
package suitereport

import (
	"sort"
)

// Status is the outcome of one test case in one place.
type Status string

// The outcomes of a case.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
	// Hang is a case still running at its deadline; it was killed.
	Hang Status = "hang"
	// Crash is a case whose process ended (a signal, an exit) without
	// gtest having written its result.
	Crash Status = "crash"
	// Error is a case that could not be run (the sandbox did not start).
	Error Status = "error"
)

// The places a case runs in.
const (
	Native  = "native"
	Stock   = "stock"
	Patched = "patched"
)

// Counts are the cases of one file in one place, by outcome.
type Counts struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Skip  int `json:"skip"`
	Hang  int `json:"hang,omitempty"`
	Crash int `json:"crash,omitempty"`
	Error int `json:"error,omitempty"`
}

// Add counts one outcome.
func (c *Counts) Add(s Status) {
	switch s {
	case Pass:
		c.Pass++
	case Fail:
		c.Fail++
	case Skip:
		c.Skip++
	case Hang:
		c.Hang++
	case Crash:
		c.Crash++
	default:
		c.Error++
	}
}

// Total is the number of cases counted.
func (c Counts) Total() int { return c.Pass + c.Fail + c.Skip + c.Hang + c.Crash + c.Error }

// File is one test binary of test/syscalls/linux (a cc_binary of its
// BUILD linking test_main) and its results.
type File struct {
	// Target is the Bazel target's name (pipe_test); Srcs its sources.
	Target string   `json:"target"`
	Srcs   []string `json:"srcs"`
	// CompileError is the first error line of a file that did not compile
	// or link, or why its cases could not be listed; such a file has no
	// results.
	CompileError string `json:"compile_error,omitempty"`
	// Cases is the number of cases the binary lists (DISABLED_ ones left
	// out, as gtest and gVisor's runner leave them out).
	Cases int `json:"cases"`
	// Counts are the outcomes per place.
	Counts map[string]Counts `json:"counts,omitempty"`
	// NotPassed lists, per place, the cases that did not pass or skip,
	// with their outcome.
	NotPassed map[string]map[string]Status `json:"not_passed,omitempty"`
	// Regressions are the cases that pass on stock and do not on
	// patched, each confirmed by running it alone in both places again.
	Regressions []string `json:"regressions,omitempty"`
	// Flaky are cases that passed on stock and not on patched in their
	// shard, but passed on patched when run alone again.
	Flaky []string `json:"flaky,omitempty"`
	// Fixed are the cases that fail on stock and pass on patched.
	Fixed []string `json:"fixed,omitempty"`
	// Seconds is the wall time of the runs, per place.
	Seconds map[string]float64 `json:"seconds,omitempty"`
}

// Result is a whole suite run.
type Result struct {
	// Version is the gVisor module version of the runsc binaries; Stock
	// and Patched their version stamps.
	Version string `json:"gvisor"`
	Stock   string `json:"stock"`
	Patched string `json:"patched"`
	// Commit is the checkout's gVisor commit whose tests ran.
	Commit   string   `json:"commit"`
	Platform string   `json:"platform"`
	Places   []string `json:"places"`
	// Toolchain says what compiled the tests.
	Toolchain string `json:"toolchain"`
	// UtilErrors are test/util sources that did not compile, with their
	// first error line; tests that need them fail to link.
	UtilErrors map[string]string `json:"util_errors,omitempty"`
	// Files are every test file selected, compiled or not, by target.
	Files []*File `json:"files"`
	// NotRun are files selected but not run: the run's time budget
	// (--max-time) was spent.
	NotRun []string `json:"not_run,omitempty"`
	// Total is the number of test files of the checkout; NotSelected how
	// many of them this run (or, merged, every run) left out or did not
	// get to.
	Total       int `json:"total"`
	NotSelected int `json:"not_selected"`
}

// Sort orders the files by target.
func (r *Result) Sort() {
	sort.Slice(r.Files, func(i, j int) bool { return r.Files[i].Target < r.Files[j].Target })
}

// Regressions returns "target: case" for every regression.
func (r *Result) Regressions() []string {
	var out []string
	for _, f := range r.Files {
		for _, c := range f.Regressions {
			out = append(out, f.Target+": "+c)
		}
	}
	return out
}

// Ran is the number of files whose cases ran.
func (r *Result) Ran() int {
	n := 0
	for _, f := range r.Files {
		if f.CompileError == "" && f.Counts != nil {
			n++
		}
	}
	return n
}

// OK reports the verdict: some file ran, and no case that passes on stock
// fails on patched.
func (r *Result) OK() bool { return r.Ran() > 0 && len(r.Regressions()) == 0 }

// Compare returns, of the cases of one file, those that pass on stock
// and do not pass on patched (suspects), and those that do not pass on
// stock and pass on patched (fixed), each sorted. A case missing in a
// place is not compared.
func Compare(stock, patched map[string]Status) (suspects, fixed []string) {
	for c, s := range stock {
		p, ok := patched[c]
		switch {
		case !ok:
		case s == Pass && p != Pass:
			suspects = append(suspects, c)
		case s != Pass && s != Skip && p == Pass:
			fixed = append(fixed, c)
		}
	}
	sort.Strings(suspects)
	sort.Strings(fixed)
	return suspects, fixed
}

// Summarise fills f's Counts and NotPassed from the outcomes per place
// and case.
func (f *File) Summarise(outcomes map[string]map[string]Status) {
	f.Counts = map[string]Counts{}
	f.NotPassed = map[string]map[string]Status{}
	for place, cases := range outcomes {
		var c Counts
		for name, s := range cases {
			c.Add(s)
			if s != Pass && s != Skip {
				if f.NotPassed[place] == nil {
					f.NotPassed[place] = map[string]Status{}
				}
				f.NotPassed[place][name] = s
			}
		}
		f.Counts[place] = c
	}
	if len(f.NotPassed) == 0 {
		f.NotPassed = nil
	}
}
