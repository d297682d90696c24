// Package report compares the guestio.Report of a guest run natively with
// the Reports of the same guest under runsc variants, and renders the
// result as JSON (every cell), JUnit XML (for CI) and Markdown (only what
// differs).
//
// A cell diverges when its Observed outcome differs from native, when a
// counter rule fails ("eintr" and "wrong_bytes" must be 0 under runsc
// whenever they were 0 natively), or when the cell is missing on one side.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/restartsys/restartsys/syscalltests/guestio"
	"golang.org/x/mod/semver"
)

// Kind says whether a runsc is stock or carries the project's patches.
type Kind string

// The kinds of runsc.
const (
	Stock   Kind = "stock"
	Patched Kind = "patched"
)

// NativeVariant is the Variant name of native runs.
const NativeVariant = "native"

// Schema is the version of the JSON document.
const Schema = 1

// Variant is one runsc configuration.
type Variant struct {
	// Name identifies the variant in every output, e.g.
	// "patched/systrap/none".
	Name string `json:"name"`
	// Kind is stock or patched.
	Kind Kind `json:"kind"`
	// Runsc is the path of the runsc binary.
	Runsc string `json:"runsc"`
	// GVisor is the gVisor module version the runsc was built from, if
	// known.
	GVisor string `json:"gvisor,omitempty"`
	// Platform, Network and DirectFS are the runsc settings.
	Platform string `json:"platform"`
	Network  string `json:"network"`
	DirectFS string `json:"directfs"`
}

// Run is one run of one guest, native or under one variant.
type Run struct {
	// Guest is the guest program's name.
	Guest string `json:"guest"`
	// Args are the guest's arguments.
	Args []string `json:"args,omitempty"`
	// Variant is a Variant.Name, or NativeVariant.
	Variant string `json:"variant"`
	// Report is what the guest printed; nil when the run failed.
	Report *guestio.Report `json:"report,omitempty"`
	// Failure says why there is no report ("" when there is one).
	Failure string `json:"failure,omitempty"`
	// ExitCode is the guest's (or runsc's) exit status, -1 if killed.
	ExitCode int `json:"exit_code"`
	// LogDir holds the run's output and runsc logs.
	LogDir string `json:"log_dir,omitempty"`
	// DurationMS is the wall time of the run.
	DurationMS int64 `json:"duration_ms"`
}

// Expected marks a divergence as known: fixed by a later patch, or a
// documented difference. Shape and Disposition may be "*".
type Expected struct {
	// Guest limits the entry to one guest program; empty matches any.
	Guest       string `json:"guest,omitempty"`
	Shape       string `json:"shape"`
	Disposition string `json:"disposition"`
	// Kind is the kind of runsc the divergence is expected of.
	Kind Kind `json:"kind"`
	// Reason is shown next to the divergence.
	Reason string `json:"reason"`
	// Before, if set, limits the entry to runsc built from a gVisor
	// module version before this one: a later snapshot has the fix. A
	// runsc whose version is unknown (given by path) matches.
	Before string `json:"before,omitempty"`
}

// LoadExpected reads a JSON list of Expected entries.
func LoadExpected(path string) ([]Expected, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var list []Expected
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, e := range list {
		if e.Shape == "" || e.Disposition == "" || e.Reason == "" {
			return nil, fmt.Errorf("%s: entry %d: shape, disposition and reason are required", path, i)
		}
		if e.Kind != Stock && e.Kind != Patched {
			return nil, fmt.Errorf("%s: entry %d: kind %q is neither %q nor %q", path, i, e.Kind, Stock, Patched)
		}
		if e.Before != "" && !semver.IsValid(e.Before) {
			return nil, fmt.Errorf("%s: entry %d: before %q is not a module version", path, i, e.Before)
		}
	}
	return list, nil
}

func (e Expected) matches(guest, shape, disp string, v Variant) bool {
	return (e.Guest == "" || e.Guest == guest) &&
		(e.Shape == "*" || e.Shape == shape) &&
		(e.Disposition == "*" || e.Disposition == disp) &&
		e.Kind == v.Kind &&
		(e.Before == "" || v.GVisor == "" || semver.Compare(v.GVisor, e.Before) < 0)
}

// Side is one side of a cell: what a guest observed.
type Side struct {
	Observed guestio.Observed `json:"observed"`
	Counters map[string]int64 `json:"counters,omitempty"`
	Note     string           `json:"note,omitempty"`
}

// Outcome is a cell's result under one variant.
type Outcome struct {
	// Variant is the Variant.Name.
	Variant string `json:"variant"`
	// Runsc is what the guest observed under runsc; nil when the cell is
	// missing from its report or the run failed.
	Runsc *Side `json:"runsc,omitempty"`
	// Error is set when the cell could not be judged (a failed run).
	Error string `json:"error,omitempty"`
	// Diverges is set when the cell differs from native.
	Diverges bool `json:"diverges"`
	// Reasons say how it differs.
	Reasons []string `json:"reasons,omitempty"`
	// Expected is the reason of the Expected entry that covers the
	// divergence, if any.
	Expected string `json:"expected,omitempty"`
}

// Cell is one shape under one disposition of one guest, across variants.
type Cell struct {
	Guest       string `json:"guest"`
	Shape       string `json:"shape"`
	Disposition string `json:"disposition"`
	// Native is the native side; nil if the cell is missing there.
	Native   *Side     `json:"native,omitempty"`
	Outcomes []Outcome `json:"outcomes"`
}

// Divergence is a cell that differs from native under one variant.
type Divergence struct {
	Guest       string   `json:"guest"`
	Shape       string   `json:"shape"`
	Disposition string   `json:"disposition"`
	Variant     string   `json:"variant"`
	Kind        Kind     `json:"kind"`
	Native      string   `json:"native"`
	Runsc       string   `json:"runsc"`
	Reasons     []string `json:"reasons"`
	// Expected is the reason it is expected, or "" if it is not.
	Expected string `json:"expected,omitempty"`
}

// Summary counts one guest under one variant.
type Summary struct {
	Guest        string `json:"guest"`
	Variant      string `json:"variant"`
	Kind         Kind   `json:"kind"`
	Shapes       int    `json:"shapes"`
	Dispositions int    `json:"dispositions"`
	Cells        int    `json:"cells"`
	Divergences  int    `json:"divergences"`
	Unexpected   int    `json:"unexpected"`
	// Failure is set when the run (or the native run) failed.
	Failure string `json:"failure,omitempty"`
}

// Document is the whole comparison. Variants, Runs and Expected are its
// inputs (enough to recompute it); the rest is derived by Compare, except
// AllowStale, which the caller sets.
type Document struct {
	Schema      int          `json:"schema"`
	Variants    []Variant    `json:"variants"`
	Runs        []Run        `json:"runs"`
	Expected    []Expected   `json:"expected,omitempty"`
	Summaries   []Summary    `json:"summaries"`
	Cells       []Cell       `json:"cells"`
	Divergences []Divergence `json:"divergences"`
	// Stale lists the Expected entries that no longer diverge: each covers
	// at least one cell judged under a variant of its kind (see Compare)
	// and matches none of the Divergences. Problems reports them unless
	// AllowStale is set.
	Stale []Expected `json:"stale_expected,omitempty"`
	// AllowStale keeps Stale entries out of Problems: for a run whose
	// expected list is knowingly wider than what it runs (an old gVisor
	// snapshot, say). The entries are still listed in Stale and rendered.
	// Compare leaves it false; Recompare keeps the old document's value.
	AllowStale bool `json:"allow_stale,omitempty"`
}

type cellKey struct{ guest, shape, disp string }

// Compare judges every runsc run against the native run of the same guest.
//
// It also finds the stale entries of expected (Document.Stale): an entry is
// judged only when it covers (Expected's guest, shape, disposition and kind
// match) at least one cell that was judged under a variant of its kind, so
// an entry for a guest or kind that did not run, or for cells left out of
// this run (a shape filter, a run that failed), is never stale. A judged
// entry that matches none of the divergences is stale.
func Compare(variants []Variant, runs []Run, expected []Expected) (*Document, error) {
	d := &Document{Schema: Schema, Variants: variants, Runs: runs, Expected: expected,
		Summaries: []Summary{}, Cells: []Cell{}, Divergences: []Divergence{}}
	byName := map[string]Variant{}
	for _, v := range variants {
		if v.Name == NativeVariant || v.Name == "" {
			return nil, fmt.Errorf("report: bad variant name %q", v.Name)
		}
		if _, dup := byName[v.Name]; dup {
			return nil, fmt.Errorf("report: duplicate variant %q", v.Name)
		}
		byName[v.Name] = v
	}
	// Guests in order of first appearance; one run per guest and variant.
	var guests []string
	runOf := map[[2]string]*Run{}
	for i := range runs {
		r := &runs[i]
		if _, ok := byName[r.Variant]; !ok && r.Variant != NativeVariant {
			return nil, fmt.Errorf("report: run of %s under unknown variant %q", r.Guest, r.Variant)
		}
		k := [2]string{r.Guest, r.Variant}
		if runOf[k] != nil {
			return nil, fmt.Errorf("report: two runs of %s under %s", r.Guest, r.Variant)
		}
		if !hasGuest(guests, r.Guest) {
			guests = append(guests, r.Guest)
		}
		runOf[k] = r
	}
	for _, g := range guests {
		native := runOf[[2]string{g, NativeVariant}]
		nativeFail := ""
		switch {
		case native == nil:
			nativeFail = "no native run"
		case native.Report == nil:
			nativeFail = "native run failed: " + native.Failure
		}
		// Cells of this guest: native order, then cells only runsc saw.
		var keys []cellKey
		cells := map[cellKey]*Cell{}
		add := func(c guestio.Case) *Cell {
			k := cellKey{g, c.Shape, c.Disposition}
			if cells[k] == nil {
				keys = append(keys, k)
				cells[k] = &Cell{Guest: g, Shape: c.Shape, Disposition: c.Disposition}
			}
			return cells[k]
		}
		if nativeFail == "" {
			for _, c := range native.Report.Cases {
				add(c).Native = side(c)
			}
		}
		sides := map[string]map[cellKey]*Side{}
		for _, v := range variants {
			r := runOf[[2]string{g, v.Name}]
			if r == nil || r.Report == nil {
				continue
			}
			m := map[cellKey]*Side{}
			for _, c := range r.Report.Cases {
				add(c)
				m[cellKey{g, c.Shape, c.Disposition}] = side(c)
			}
			sides[v.Name] = m
		}
		for _, v := range variants {
			r := runOf[[2]string{g, v.Name}]
			if r == nil {
				continue
			}
			sum := Summary{Guest: g, Variant: v.Name, Kind: v.Kind}
			shapes, disps := map[string]bool{}, map[string]bool{}
			// Count the native cells, or every cell seen when there is no
			// native report.
			for _, k := range keys {
				if cells[k].Native != nil || nativeFail != "" {
					shapes[k.shape], disps[k.disp] = true, true
				}
			}
			sum.Shapes, sum.Dispositions = len(shapes), len(disps)
			runFail := ""
			switch {
			case r.Report == nil:
				runFail = "run failed: " + r.Failure
			case nativeFail != "":
				runFail = nativeFail
			}
			sum.Failure = runFail
			for _, k := range keys {
				c := cells[k]
				if c.Native == nil && sides[v.Name][k] == nil && nativeFail == "" {
					continue // only another variant saw this cell
				}
				sum.Cells++
				o := Outcome{Variant: v.Name}
				if runFail != "" {
					o.Error = runFail
					if r.Report != nil {
						o.Runsc = sides[v.Name][k]
					}
					c.Outcomes = append(c.Outcomes, o)
					continue
				}
				o.Runsc = sides[v.Name][k]
				o.Reasons = judge(c.Native, o.Runsc)
				o.Diverges = len(o.Reasons) > 0
				if o.Diverges {
					for _, e := range expected {
						if e.matches(g, k.shape, k.disp, v) {
							o.Expected = e.Reason
							break
						}
					}
					sum.Divergences++
					if o.Expected == "" {
						sum.Unexpected++
					}
					d.Divergences = append(d.Divergences, Divergence{
						Guest: g, Shape: k.shape, Disposition: k.disp, Variant: v.Name, Kind: v.Kind,
						Native: Format(c.Native, o.Reasons), Runsc: Format(o.Runsc, o.Reasons),
						Reasons: o.Reasons, Expected: o.Expected,
					})
				}
				c.Outcomes = append(c.Outcomes, o)
			}
			d.Summaries = append(d.Summaries, sum)
		}
		for _, k := range keys {
			d.Cells = append(d.Cells, *cells[k])
		}
	}
	d.Stale = stale(d.Cells, byName, expected)
	return d, nil
}

// stale returns the entries of expected that cover a cell judged under a
// variant of their kind and match no divergence, in expected's order.
func stale(cells []Cell, variants map[string]Variant, expected []Expected) []Expected {
	var out []Expected
	for _, e := range expected {
		judged, diverged := false, false
		for _, c := range cells {
			for _, o := range c.Outcomes {
				if o.Error != "" || !e.matches(c.Guest, c.Shape, c.Disposition, variants[o.Variant]) {
					continue
				}
				judged = true
				diverged = diverged || o.Diverges
			}
		}
		if judged && !diverged {
			out = append(out, e)
		}
	}
	return out
}

// String names the entry in messages: guest (or "any guest"), shape,
// disposition, kind and reason.
func (e Expected) String() string {
	g := e.Guest
	if g == "" {
		g = "any guest"
	}
	return fmt.Sprintf("%s: %s [%s] on %s runsc (%q)", g, e.Shape, e.Disposition, e.Kind, e.Reason)
}

func hasGuest(gs []string, g string) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

func side(c guestio.Case) *Side {
	return &Side{Observed: c.Observed, Counters: c.Counters, Note: c.Note}
}

// ZeroRules are the counters that must stay 0 under runsc whenever they
// were 0 natively. A counter a report leaves out counts as 0.
var ZeroRules = []string{"eintr", "wrong_bytes"}

// judge returns why runsc differs from native, or nil.
func judge(native, runsc *Side) []string {
	switch {
	case native == nil && runsc == nil:
		// Only another variant saw this cell: nothing to judge here.
		return nil
	case native == nil:
		return []string{"missing in the native report"}
	case runsc == nil:
		return []string{"missing in the runsc report"}
	}
	var reasons []string
	if native.Observed != runsc.Observed {
		if native.Observed.Result != runsc.Observed.Result {
			reasons = append(reasons, fmt.Sprintf("result: native %s, runsc %s", native.Observed.Result, runsc.Observed.Result))
		}
		if native.Observed.HandlerRan != runsc.Observed.HandlerRan {
			reasons = append(reasons, fmt.Sprintf("handler_ran: native %t, runsc %t", native.Observed.HandlerRan, runsc.Observed.HandlerRan))
		}
	}
	for _, name := range ZeroRules {
		if native.Counters[name] == 0 && runsc.Counters[name] != 0 {
			reasons = append(reasons, fmt.Sprintf("%s: native 0, runsc %d (must stay 0)", name, runsc.Counters[name]))
		}
	}
	return reasons
}

// Format renders a side briefly: the result, "+handler" when the handler
// ran, and the counters that a rule looks at when any rule failed.
func Format(s *Side, reasons []string) string {
	if s == nil {
		return "(missing)"
	}
	out := s.Observed.Result
	if s.Observed.HandlerRan {
		out += " +handler"
	}
	for _, name := range ZeroRules {
		for _, r := range reasons {
			if strings.HasPrefix(r, name+":") {
				out += fmt.Sprintf(" %s=%d", name, s.Counters[name])
				break
			}
		}
	}
	return out
}

// Problems returns what should make the harness exit non-zero: every run
// that failed, every divergence of a patched runsc that no Expected entry
// covers, and, unless AllowStale is set, every Stale entry.
func (d *Document) Problems() []string {
	var p []string
	for _, r := range d.Runs {
		if r.Report == nil {
			p = append(p, fmt.Sprintf("%s under %s: run failed: %s", r.Guest, r.Variant, r.Failure))
		}
	}
	for _, v := range d.Divergences {
		if v.Kind == Patched && v.Expected == "" {
			p = append(p, fmt.Sprintf("%s under %s: %s [%s] diverges from native: %s",
				v.Guest, v.Variant, v.Shape, v.Disposition, strings.Join(v.Reasons, "; ")))
		}
	}
	if !d.AllowStale {
		for _, e := range d.Stale {
			p = append(p, "expected divergence no longer diverges (remove the entry, or allow stale entries): "+e.String())
		}
	}
	return p
}

// WriteJSON writes d as indented JSON.
func WriteJSON(w io.Writer, d *Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// ErrSchema is wrapped by ReadJSON for a document of another schema.
var ErrSchema = errors.New("unsupported report schema")

// ReadJSON reads a document written by WriteJSON.
func ReadJSON(r io.Reader) (*Document, error) {
	var d Document
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return nil, err
	}
	if d.Schema != Schema {
		return nil, fmt.Errorf("%w %d (want %d)", ErrSchema, d.Schema, Schema)
	}
	return &d, nil
}

// Recompare recomputes d's judgement from its inputs, with expected
// instead of d's own list when expected is not nil. The result keeps d's
// AllowStale.
func Recompare(d *Document, expected []Expected) (*Document, error) {
	if expected == nil {
		expected = d.Expected
	}
	nd, err := Compare(d.Variants, d.Runs, expected)
	if err != nil {
		return nil, err
	}
	nd.AllowStale = d.AllowStale
	return nd, nil
}

// sortedCounters lists a side's counters as "k=v" in key order.
func sortedCounters(s *Side) string {
	if s == nil || len(s.Counters) == 0 {
		return ""
	}
	keys := make([]string, 0, len(s.Counters))
	for k := range s.Counters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, s.Counters[k])
	}
	return strings.Join(parts, " ")
}

// RecompareFile reads a report.json written by a run and compares its runs
// again (Recompare), with the expected divergences of expectedPath instead
// of the saved ones when expectedPath is not empty.
func RecompareFile(path, expectedPath string) (*Document, error) {
	var expected []Expected
	if expectedPath != "" {
		var err error
		if expected, err = LoadExpected(expectedPath); err != nil {
			return nil, err
		}
		if expected == nil {
			expected = []Expected{}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	saved, err := ReadJSON(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Recompare(saved, expected)
}
