// Package docs keeps the record of real runs per gVisor snapshot
// (docs/affected-versions.json) and generates docs/affected-versions.md and
// docs/upstreaming.md from it and from the patch series.
package docs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// Record is what was measured on one gVisor snapshot (verify --gvisor
// V1,V2|all): the boot checks, the storm and the matrix;
// docs/affected-versions.json keeps them between runs.
type Record struct {
	Version      string `json:"version"`
	Measured     string `json:"measured"`
	Command      string `json:"command"`
	SeriesID     string `json:"series_id"`
	StockStamp   string `json:"stock_stamp"`
	PatchedStamp string `json:"patched_stamp"`
	// Sets are the patch sets of the patched runsc (--sets).
	Sets string `json:"sets,omitempty"`
	// NeedsCompat is set when both binaries carry the compat set.
	NeedsCompat bool `json:"needs_compat,omitempty"`
	// StockBoot and PatchedBoot say what guest ran under each binary in
	// its build's boot check.
	StockBoot   string      `json:"stock_boot,omitempty"`
	PatchedBoot string      `json:"patched_boot,omitempty"`
	Cases       []StormCase `json:"cases,omitempty"`
	// Matrix is the matrix under patched runsc (verify --matrix).
	Matrix *MatrixRecord `json:"matrix,omitempty"`
	// Error is set when the version could not be built or run.
	Error string `json:"error,omitempty"`
}

// StormCase is one storm case under stock and patched runsc.
type StormCase struct {
	Shape   string `json:"shape"`
	Stock   string `json:"stock"`
	Patched string `json:"patched"`
}

// MatrixRecord is the matrix under patched runsc of one version, judged
// against native Linux and matrixExpected.
type MatrixRecord struct {
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

// LoadRecords reads the records of path, keyed by module version; a
// missing file holds none.
func LoadRecords(path string) (map[string]Record, error) {
	out := map[string]Record{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var list []Record
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range list {
		out[r.Version] = r
	}
	return out, nil
}

// SaveRecords writes the records to path atomically, oldest version
// first.
func SaveRecords(path string, records map[string]Record) error {
	list := make([]Record, 0, len(records))
	for _, r := range records {
		list = append(list, r)
	}
	// Versions sort by time: pseudo-versions share the v0.0.0- prefix.
	slices.SortFunc(list, func(a, b Record) int { return strings.Compare(a.Version, b.Version) })
	return fscopy.WriteJSON(path, list)
}

// StampSeriesID returns the series id of a patched runsc's version line,
// "runsc version V+<series id>.<patch ids>", or "" if it has none.
func StampSeriesID(stamp string) string {
	_, after, ok := strings.Cut(stamp, "+")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, ".")
	return strings.TrimSpace(id)
}

// StormCases condenses a storm document to one row per case.
func StormCases(doc *report.Document) []StormCase {
	kinds := map[string]report.Kind{}
	for _, v := range doc.Variants {
		kinds[v.Name] = v.Kind
	}
	var out []StormCase
	for _, cell := range doc.Cells {
		sr := StormCase{Shape: cell.Shape}
		for _, o := range cell.Outcomes {
			s := StormSide(o.Runsc, o.Error)
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

// Problems lists what keeps a version's record from proving the series
// there; a stale expected.json entry counts unless allowStale.
func Problems(rec Record, ser *series.Series, allowStale bool) []string {
	if rec.Error != "" {
		return []string{FirstLine(rec.Error)}
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
	if n := SumBad(rec.Cases, true); affected && n == 0 {
		out = append(out, "the series map says affected, but stock runsc did not diverge in the storm")
	}
	if n := SumBad(rec.Cases, false); n > 0 {
		out = append(out, fmt.Sprintf("patched runsc diverges from native Linux in %d storm case(s)", n))
	}
	if m := rec.Matrix; m != nil {
		if m.Failure != "" {
			out = append(out, "matrix: "+FirstLine(m.Failure))
		}
		if m.Unexpected > 0 {
			out = append(out, fmt.Sprintf("matrix on patched: %d divergence(s) beyond expected.json: %s", m.Unexpected, strings.Join(m.UnexpectedCells, ", ")))
		}
		if len(m.Stale) > 0 && !allowStale {
			out = append(out, fmt.Sprintf("matrix on patched: %d expected.json entr(ies) no longer diverge: %s", len(m.Stale), strings.Join(m.Stale, ", ")))
		}
	}
	return out
}

// FirstLine is the first line of s.
func FirstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// StormSide renders one side of a storm cell: its result and its counts.
func StormSide(s *report.Side, failure string) string {
	if s == nil {
		if failure != "" {
			return "run failed"
		}
		return "missing"
	}
	out := fmt.Sprintf("%s %d/%d", s.Observed.Result, s.Counters["eintr"], s.Counters["interrupted"])
	if wb := s.Counters["wrong_bytes"]; wb != 0 {
		out += fmt.Sprintf(" wrong_bytes=%d", wb)
	}
	return out
}
