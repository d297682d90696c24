package upstream

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/junit"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"golang.org/x/mod/semver"
)

// Options say what Verify runs.
type Options struct {
	// Manifest is the upstream series.
	Manifest *Manifest
	// Series is the snapshot series, for which versions have each bug.
	Series *series.Series
	// Version is the gVisor module version the runsc binaries are built
	// from.
	Version string
	// Layer is syscalltests/gvisortest.
	Layer string
	// Places are where each case runs: native, stock, patched.
	Places []Place
	// Timeout is the deadline of one case in one place; a case that
	// passes it is killed and reported as a hang.
	Timeout time.Duration
	// WorkDir receives the generated sources and binaries.
	WorkDir string
	// Log receives progress.
	Log io.Writer
}

// Row is one test case's results.
type Row struct {
	Patch string `json:"patch"`
	Case  string `json:"case"`
	// Bug is the snapshot patch whose bug the case shows ("" for a guard).
	Bug string `json:"bug,omitempty"`
	// StockAffected says whether the version has that bug, so that stock
	// runsc must fail the case.
	StockAffected bool `json:"stock_affected"`
	// PatchedLacks is Case.PatchedLacks.
	PatchedLacks string `json:"patched_lacks,omitempty"`
	// NoFixHere says that the bug's snapshot patch does not reach this
	// version (outside its range, not fixed upstream): the patched runsc
	// carries no fix for it here, so it is not required to pass.
	NoFixHere bool `json:"no_fix_here,omitempty"`
	// Results maps a place name to the case's outcome there.
	Results map[string]Outcome `json:"results"`
	// Problems say what is not as expected; none when the row is good.
	Problems []string `json:"problems,omitempty"`
}

// Result is a whole verify run.
type Result struct {
	Version string   `json:"gvisor"`
	Master  string   `json:"master"`
	Places  []string `json:"places"`
	Rows    []*Row   `json:"rows"`
}

// OK reports whether every row is as expected.
func (r *Result) OK() bool {
	for _, row := range r.Rows {
		if len(row.Problems) > 0 {
			return false
		}
	}
	return true
}

// Verify compiles each patch's cases into one binary and runs every case in
// every place.
func Verify(ctx context.Context, o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	res := &Result{Version: o.Version, Master: o.Manifest.Master}
	for _, p := range o.Places {
		res.Places = append(res.Places, p.Name)
	}
	for i, p := range o.Manifest.Patches {
		raw, err := os.ReadFile(o.Manifest.Path(p))
		if err != nil {
			return nil, err
		}
		cases, err := Extract(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.File, err)
		}
		if err := checkCases(p, cases); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("upstream_%04d_test", i+1)
		fmt.Fprintf(log, "compiling %d case(s) of %s\n", len(cases), p.File)
		bin, err := Compile(ctx, o.Layer, o.WorkDir, name, cases)
		if err != nil {
			return nil, err
		}
		for _, c := range cases {
			want := p.Cases[c.Name]
			row := &Row{Patch: p.File, Case: c.Name, Bug: want.Bug, PatchedLacks: want.PatchedLacks, Results: map[string]Outcome{}}
			if bug := findPatch(o.Series, want.Bug); bug != nil {
				row.StockAffected = bug.MapSaysAffected(o.Version)
				fixedUpstream := bug.FixedUpstreamIn != "" && semver.Compare(o.Version, bug.FixedUpstreamIn) >= 0
				row.NoFixHere = !row.StockAffected && !fixedUpstream
			}
			for _, pl := range o.Places {
				out, err := pl.RunCase(ctx, bin, c, o.Timeout)
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(log, "%-55s %-8s %s (%v)\n", c.Name, pl.Name, out.Status, out.Duration.Round(time.Millisecond))
				row.Results[pl.Name] = out
			}
			row.Problems = judge(row)
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}

// checkCases checks that the patch adds exactly the cases its manifest
// entry names.
func checkCases(p *Patch, cases []TestCase) error {
	seen := map[string]bool{}
	for _, c := range cases {
		if _, ok := p.Cases[c.Name]; !ok {
			return fmt.Errorf("%s adds %s, which %s does not list", p.File, c.Name, ManifestFile)
		}
		seen[c.Name] = true
	}
	for _, n := range p.CaseNames() {
		if !seen[n] {
			return fmt.Errorf("%s lists %s for %s, which the patch does not add", ManifestFile, n, p.File)
		}
	}
	return nil
}

func findPatch(s *series.Series, id string) *series.Patch {
	if s == nil || id == "" {
		return nil
	}
	for _, p := range s.Patches {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// judge returns what is wrong with a row: a case must pass natively; on
// patched it must pass, or fail where the snapshot series lacks the fix
// (PatchedLacks); on stock of an affected version a bug case must fail.
func judge(r *Row) []string {
	var problems []string
	if o, ok := r.Results["native"]; ok && o.Status != Pass {
		problems = append(problems, "native: "+string(o.Status)+", want pass")
	}
	if o, ok := r.Results["patched"]; ok && !r.NoFixHere {
		switch {
		case r.PatchedLacks == "" && o.Status != Pass:
			problems = append(problems, "patched: "+string(o.Status)+", want pass")
		case r.PatchedLacks != "" && o.Status == Pass:
			problems = append(problems, "patched: pass, but the manifest says the snapshot series lacks the fix (stale patched_lacks)")
		case r.PatchedLacks != "" && o.Status != Fail:
			problems = append(problems, "patched: "+string(o.Status)+", want fail (patched_lacks)")
		}
	}
	if o, ok := r.Results["stock"]; ok && r.StockAffected && o.Status != Fail && o.Status != Hang {
		problems = append(problems, "stock: "+string(o.Status)+", want fail: the version has bug "+r.Bug+" and the case does not see it")
	}
	return problems
}

// WriteTable prints the case × place table and a verdict line.
func (r *Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "case\tbug\t%s\n", strings.Join(r.Places, "\t"))
	for _, row := range r.Rows {
		bug := row.Bug
		if bug == "" {
			bug = "guard"
		} else if row.NoFixHere {
			bug += " (no fix for this version)"
		} else if !row.StockAffected {
			bug += " (not in this version)"
		}
		cells := []string{row.Case, bug}
		for _, p := range r.Places {
			cell := string(row.Results[p].Status)
			if p == "stock" && row.StockAffected && (cell == string(Fail) || cell == string(Hang)) {
				cell += " (bug seen)"
			}
			if p == "patched" && row.PatchedLacks != "" {
				cell += " (patched_lacks)"
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, row := range r.Rows {
		for _, p := range row.Problems {
			fmt.Fprintf(w, "✗ %s: %s\n", row.Case, p)
		}
	}
	if r.OK() {
		fmt.Fprintf(w, "verdict: every case passes natively and on patched runsc (where the series fixes its bug in this version), and every bug case fails on stock runsc %s\n", r.Version)
	} else {
		fmt.Fprintln(w, "verdict: FAIL")
	}
}

// JUnit returns the run as JUnit XML suites: one suite per place.
func (r *Result) JUnit() *junit.Suites {
	all := &junit.Suites{Name: "upstream verify " + r.Version}
	for _, p := range r.Places {
		s := junit.Suite{Name: p, Properties: junit.Props(junit.Property{Name: "gvisor", Value: r.Version}, junit.Property{Name: "master", Value: r.Master})}
		for _, row := range r.Rows {
			o := row.Results[p]
			c := junit.Case{Classname: filepath.Base(row.Patch), Name: row.Case, Time: fmt.Sprintf("%.3f", o.Duration.Seconds())}
			var bad []string
			for _, pr := range row.Problems {
				if strings.HasPrefix(pr, p+":") {
					bad = append(bad, pr)
				}
			}
			if len(bad) > 0 {
				c.Failure = &junit.Message{Message: strings.Join(bad, "; "), Text: o.Output}
			} else if o.Status == Skip {
				c.Skipped = &junit.Message{Message: "skipped"}
			}
			s.Cases = append(s.Cases, c)
		}
		s.Count()
		all.Suites = append(all.Suites, s)
	}
	for _, s := range all.Suites {
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
	}
	return all
}
