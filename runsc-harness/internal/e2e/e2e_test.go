package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

func TestNormaliseError(t *testing.T) {
	for _, tc := range []struct{ stderr, id, want string }{
		{
			`time="2026-11-23T13:17:58Z" level=error msg="exec failed: unable to start container process: reading from parent failed: fetch packet length from socket: interrupted system call"`,
			"sleeper-storm",
			"exec failed: unable to start container process: " + FieldError,
		},
		{
			"time=\"x\" level=warning msg=\"something\"\ntime=\"x\" level=error msg=\"open exec fifo /proc/thread-self/fd/7: interrupted system call\"\ntime=\"x\" level=error msg=\"runc run failed: container process is already dead\"\n",
			"run-storm-3",
			FIFOError + " → runc run failed: container process is already dead",
		},
		{
			`time="x" level=error msg="container \"run-storm-3\" does not exist"`,
			"run-storm-3",
			`container "<id>" does not exist`,
		},
		{"plain text error\n", "", "plain text error"},
		{
			"open exec fifo /proc/thread-self/fd/7: interrupted system call\ntime=\"x\" level=error msg=\"runc run failed: container process is already dead\"\n",
			"",
			FIFOError + " → runc run failed: container process is already dead",
		},
		{"", "", "(no error message)"},
	} {
		if got := NormaliseError(tc.stderr, tc.id); got != tc.want {
			t.Errorf("NormaliseError(%q) = %q, want %q", tc.stderr, got, tc.want)
		}
	}
}

func TestSummarise(t *testing.T) {
	var s Stat
	s.Summarise([]int64{5, 1, 3, 2, 4})
	if s.TotalMS != 15 || s.MeanMS != 3 || s.P50MS != 3 || s.P95MS != 5 || s.MaxMS != 5 {
		t.Errorf("Summarise: %+v", s)
	}
}

func TestParseStatsAndReports(t *testing.T) {
	out := "noise\n" + StatPrefix + `{"op":"run","mode":"storm","runs":4,"failures":4,"errors":{"x: ` + FieldError + `":4}}` + "\n" +
		StatPrefix + `{"op":"exec","mode":"storm","runs":4,"failures":0}` + "\n"
	stats, err := ParseStats([]byte(out))
	if err != nil || len(stats) != 2 {
		t.Fatalf("ParseStats: %v %+v", err, stats)
	}
	d := &Document{Modes: []Mode{ModeStorm}, Results: []Result{
		{Name: "stock", Kind: report.Stock, Stats: stats},
		{Name: "patched", Kind: report.Patched, Stats: []Stat{{Op: OpRun, Mode: ModeStorm, Runs: 4}, {Op: OpExec, Mode: ModeStorm, Runs: 4}}},
	}}
	if p := d.Problems(); len(p) != 0 {
		t.Errorf("Problems: %q", p)
	}
	var md, junit bytes.Buffer
	if err := WriteMarkdown(&md, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| 4 | `x: "+FieldError+"` |") {
		t.Errorf("markdown lacks the error row:\n%s", md.String())
	}
	if err := WriteJUnit(&junit, d); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(junit.String(), "<failure") {
		t.Errorf("junit has a failure:\n%s", junit.String())
	}

	// A patched failure and a stock storm that caught nothing are problems.
	d.Results[0].Stats = []Stat{{Op: OpRun, Mode: ModeStorm, Runs: 4}}
	d.Results[1].Stats[0].Failures = 1
	d.Results[1].Stats[0].Errors = map[string]int{"boom": 1}
	if p := d.Problems(); len(p) != 2 {
		t.Errorf("Problems: %q, want 2", p)
	}
	junit.Reset()
	if err := WriteJUnit(&junit, d); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(junit.String(), "<failure"); n != 2 {
		t.Errorf("junit has %d failures, want 2:\n%s", n, junit.String())
	}
}

// TestProblemsFollowTheSeriesMap: with Document.Affected, stock must fail
// under the storm exactly the operations the map has affected; without it
// (e2e runc), anything.
func TestProblemsFollowTheSeriesMap(t *testing.T) {
	stock := func(runFail, execFail int) Result {
		return Result{Name: "stock", Kind: report.Stock, Stats: []Stat{
			{Op: OpRun, Mode: ModeStorm, Runs: 10, Failures: runFail},
			{Op: OpExec, Mode: ModeStorm, Runs: 10, Failures: execFail},
		}}
	}
	for _, c := range []struct {
		name     string
		affected map[Op]bool
		res      Result
		problems int
	}{
		{"newest: run affected and failing, exec not affected", map[Op]bool{OpRun: true}, stock(10, 0), 0},
		{"2026-05-18: exec affected but not failing", map[Op]bool{OpRun: true, OpExec: true}, stock(10, 0), 1},
		{"no map: any failure will do", nil, stock(0, 3), 0},
		{"no map: nothing failed", nil, stock(0, 0), 1},
		{"containerd: nothing affected", map[Op]bool{}, stock(0, 0), 0},
	} {
		d := &Document{GVisor: "v", Client: ClientDocker, Affected: c.affected, Results: []Result{c.res}}
		if p := d.Problems(); len(p) != c.problems {
			t.Errorf("%s: problems %q, want %d", c.name, p, c.problems)
		}
		var junitOut strings.Builder
		if err := WriteJUnit(&junitOut, d); err != nil {
			t.Fatal(err)
		}
		if failed := strings.Contains(junitOut.String(), "the storm caught nothing"); failed != (c.problems > 0) {
			t.Errorf("%s: JUnit storm case failed=%v, want %v", c.name, failed, c.problems > 0)
		}
	}
}
