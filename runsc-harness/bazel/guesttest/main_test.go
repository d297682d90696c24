package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

func TestShard(t *testing.T) {
	cases := []Case{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	status := filepath.Join(t.TempDir(), "status")
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	got, err := shard(cases, env(map[string]string{"TEST_TOTAL_SHARDS": "2", "TEST_SHARD_INDEX": "1", "TEST_SHARD_STATUS_FILE": status}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "b" {
		t.Errorf("shard 1 of 2 = %v, want [b]", got)
	}
	if _, err := os.Stat(status); err != nil {
		t.Errorf("TEST_SHARD_STATUS_FILE not touched: %v", err)
	}
	got, err = shard(cases, env(map[string]string{"TEST_TOTAL_SHARDS": "2", "TEST_SHARD_INDEX": "0"}))
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "c" {
		t.Errorf("shard 0 of 2 = %v, %v; want [a c]", got, err)
	}
	if got, err := shard(cases, env(nil)); err != nil || len(got) != 3 {
		t.Errorf("unsharded = %v, %v; want all", got, err)
	}
	if _, err := shard(cases, env(map[string]string{"TEST_TOTAL_SHARDS": "2", "TEST_SHARD_INDEX": "2"})); err == nil {
		t.Error("index out of range accepted")
	}
}

func stormReport(result string, eintr int64) *guestio.Report {
	return &guestio.Report{Program: "storm", Cases: []guestio.Case{{
		Shape: "open/fifo/x", Disposition: "restart",
		Observed: guestio.Observed{Result: result, HandlerRan: true},
		Counters: map[string]int64{"eintr": eintr},
	}}}
}

func compare(t *testing.T, kind report.Kind, runscResult string, eintr int64) *report.Document {
	t.Helper()
	name := string(kind) + "/systrap/none"
	d, err := report.Compare(
		[]report.Variant{{Name: name, Kind: kind, Platform: "systrap", Network: "none", DirectFS: "default"}},
		[]report.Run{
			{Guest: "storm", Variant: report.NativeVariant, Report: stormReport("ok", 0)},
			{Guest: "storm", Variant: name, Report: stormReport(runscResult, eintr)},
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func failures(rs []result) []string {
	var f []string
	for _, r := range rs {
		if r.failure != "" {
			f = append(f, r.shape+": "+r.failure)
		}
	}
	return f
}

func TestJudge(t *testing.T) {
	known := Case{Name: "fifo", StockDiverges: []string{"open/fifo/x"}}
	clean := Case{Name: "fifo"}
	tests := []struct {
		name     string
		mode     string
		k        Case
		d        *report.Document
		wantFail string // substring of the failure, "" for a pass
	}{
		{"stock sees the known bug", "stock", known, compare(t, report.Stock, "EINTR", 5), ""},
		{"stock misses the known bug", "stock", known, compare(t, report.Stock, "ok", 0), "expected to diverge"},
		{"stock diverges where nothing is known", "stock", clean, compare(t, report.Stock, "EINTR", 5), "diverges"},
		{"stock may diverge elsewhere", "stock", Case{Name: "m", StockMayDiverge: true}, compare(t, report.Stock, "EINTR", 5), ""},
		{"stock matches on an unaffected version", "stock", clean, compare(t, report.Stock, "ok", 0), ""},
		{"patched matches", "patched", known, compare(t, report.Patched, "ok", 0), ""},
		{"patched diverges", "patched", known, compare(t, report.Patched, "EINTR", 1), "diverges"},
	}
	for _, tt := range tests {
		f := strings.Join(failures(judge(tt.mode, tt.k, tt.d)), "; ")
		switch {
		case tt.wantFail == "" && f != "":
			t.Errorf("%s: failed: %s", tt.name, f)
		case tt.wantFail != "" && !strings.Contains(f, tt.wantFail):
			t.Errorf("%s: failures %q, want one containing %q", tt.name, f, tt.wantFail)
		}
	}
}

func TestJudgeNativeExitStatus(t *testing.T) {
	d, err := report.Compare(nil, []report.Run{{Guest: "storm", Variant: report.NativeVariant, Report: stormReport("ok", 0), ExitCode: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := failures(judge("native", Case{Name: "x"}, d)); len(f) != 1 {
		t.Errorf("native exit 1: failures %q, want one", f)
	}
}

func TestParse(t *testing.T) {
	if _, err := parse([]string{"-mode", "stock", "-guest", "g", "-cases", `[{"name":"a"}]`}); err == nil {
		t.Error("stock without -runsc accepted")
	}
	if _, err := parse([]string{"-mode", "native", "-guest", "g", "-cases", `[{"name":"a"},{"name":"a"}]`}); err == nil {
		t.Error("repeated case name accepted")
	}
	c, err := parse([]string{"-mode", "native", "-guest", "dir/storm", "-cases", `[{"name":"a","args":["-x"]}]`})
	if err != nil || c.name != "storm" || len(c.cases) != 1 || c.cases[0].Args[0] != "-x" {
		t.Errorf("parse = %+v, %v", c, err)
	}
}
