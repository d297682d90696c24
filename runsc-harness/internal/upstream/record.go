package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/junit"
)

// RecordFile is where `upstream verify --record` keeps its results, in the
// repository's docs directory; docs/upstreaming.md is generated from it.
const RecordFile = "upstream-verify.json"

// Record is one recorded verify run of a snapshot.
type Record struct {
	// Measured is the day it ran (YYYY-MM-DD); Command what ran.
	Measured string `json:"measured"`
	Command  string `json:"command"`
	// Result is the run, without the test binaries' output.
	Result *Result `json:"result"`
}

// LoadRecords reads the records at path, by gVisor module version; a
// missing file is no records.
func LoadRecords(path string) (map[string]Record, error) {
	recs := map[string]Record{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// SaveRecord adds rec for its result's version to the records at path,
// replacing an older one, and rewrites the file atomically. The test
// binaries' output is left out: the records say what happened, the logs
// of a run say why.
func SaveRecord(path string, rec Record) error {
	recs, err := LoadRecords(path)
	if err != nil {
		return err
	}
	res := *rec.Result
	res.Rows = nil
	for _, row := range rec.Result.Rows {
		r := *row
		r.Results = map[string]Outcome{}
		for place, o := range row.Results {
			r.Results[place] = Outcome{Status: o.Status, Duration: o.Duration}
		}
		res.Rows = append(res.Rows, &r)
	}
	rec.Result = &res
	recs[res.Version] = rec
	return fscopy.WriteJSON(path, recs)
}

// WriteFiles writes r as JSON to jsonPath and as JUnit XML to junitPath;
// an empty path writes nothing.
func (r *Result) WriteFiles(jsonPath, junitPath string) error {
	if jsonPath != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if junitPath == "" {
		return nil
	}
	f, err := os.Create(junitPath)
	if err != nil {
		return err
	}
	if err := junit.Write(f, r.JUnit()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
