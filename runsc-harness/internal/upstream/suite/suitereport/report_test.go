package suitereport

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		stock, patched       map[string]Status
		wantSuspects, wantFx []string
	}{
		{"same", map[string]Status{"a": Pass, "b": Fail}, map[string]Status{"a": Pass, "b": Fail}, nil, nil},
		{"regression", map[string]Status{"a": Pass, "b": Pass, "c": Pass}, map[string]Status{"a": Fail, "b": Hang, "c": Skip}, []string{"a", "b", "c"}, nil},
		{"fixed", map[string]Status{"a": Fail, "b": Crash, "c": Skip}, map[string]Status{"a": Pass, "b": Pass, "c": Pass}, nil, []string{"a", "b"}},
		{"missing on patched", map[string]Status{"a": Pass}, map[string]Status{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f := Compare(tc.stock, tc.patched)
			if d := cmp.Diff(tc.wantSuspects, s); d != "" {
				t.Errorf("suspects (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantFx, f); d != "" {
				t.Errorf("fixed (-want +got):\n%s", d)
			}
		})
	}
}

func TestSummariseAndVerdict(t *testing.T) {
	f := &File{Target: "pipe_test", Cases: 4}
	f.Summarise(map[string]map[string]Status{
		Native:  {"a": Pass, "b": Fail, "c": Skip, "d": Pass},
		Stock:   {"a": Pass, "b": Pass, "c": Skip, "d": Hang},
		Patched: {"a": Pass, "b": Pass, "c": Skip, "d": Crash},
	})
	want := map[string]Counts{
		Native:  {Pass: 2, Fail: 1, Skip: 1},
		Stock:   {Pass: 2, Skip: 1, Hang: 1},
		Patched: {Pass: 2, Skip: 1, Crash: 1},
	}
	if d := cmp.Diff(want, f.Counts); d != "" {
		t.Errorf("Counts (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]map[string]Status{Native: {"b": Fail}, Stock: {"d": Hang}, Patched: {"d": Crash}}, f.NotPassed); d != "" {
		t.Errorf("NotPassed (-want +got):\n%s", d)
	}
	r := &Result{Places: []string{Native, Stock, Patched}, Files: []*File{f, {Target: "bad_test", CompileError: "compile bad.cc: error: x"}}}
	if !r.OK() {
		t.Error("OK() = false without regressions")
	}
	f.Regressions = []string{"a"}
	if r.OK() {
		t.Error("OK() = true with a regression")
	}
	if got := (&Result{Files: []*File{{Target: "bad_test", CompileError: "x"}}}).OK(); got {
		t.Error("OK() = true when nothing ran")
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, s := range []string{"pipe_test  4      2/1/1", "2/0/1 +1 hang", "2/0/1 +1 crash", "bad_test (): compile bad.cc: error: x", "✗ regression: pipe_test: a", "verdict: FAIL"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
}

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := RenderSection(&b, dir); err != nil || !strings.Contains(b.String(), "No run is recorded yet") {
		t.Errorf("RenderSection without a record: %v\n%s", err, b.String())
	}
	res1 := &Result{Commit: "c1", Stock: "s", Patched: "p", Platform: "systrap", Places: []string{Native, Stock, Patched},
		Files: []*File{{Target: "b_test", Cases: 1, Counts: map[string]Counts{Stock: {Pass: 1}}}, {Target: "a_test", Cases: 1}}, Total: 12, NotSelected: 10}
	rec := Merge(nil, Run{Command: "one"}, res1)
	res2 := &Result{Commit: "c1", Stock: "s", Patched: "p", Platform: "systrap", Places: res1.Places,
		Files: []*File{{Target: "c_test", Cases: 2, Counts: map[string]Counts{Stock: {Pass: 2}}}, {Target: "a_test", Cases: 3}}, Total: 12, NotSelected: 10}
	rec = Merge(rec, Run{Command: "two"}, res2)
	var names []string
	for _, f := range rec.Result.Files {
		names = append(names, f.Target)
	}
	if d := cmp.Diff([]string{"a_test", "b_test", "c_test"}, names); d != "" {
		t.Errorf("merged files (-want +got):\n%s", d)
	}
	if rec.Result.Files[0].Cases != 3 || len(rec.Runs) != 2 || rec.Result.NotSelected != 9 {
		t.Errorf("merge: a_test cases %d (want 3, the newer run), %d runs, %d not selected (want 9)", rec.Result.Files[0].Cases, len(rec.Runs), rec.Result.NotSelected)
	}
	other := Merge(rec, Run{Command: "three"}, &Result{Commit: "c2", Files: []*File{{Target: "z_test"}}})
	if len(other.Runs) != 1 || len(other.Result.Files) != 1 {
		t.Errorf("a result of another commit did not replace the record: %+v", other)
	}
	path := filepath.Join(dir, RecordFile)
	if err := SaveRecord(path, rec); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := RenderSection(&b, dir); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"gVisor commit `c1`", "`two`", "| `c_test` | 2 | - | 2/0/0 | - |", "no case that passes on stock fails on patched"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("section lacks %q:\n%s", s, b.String())
		}
	}
}
