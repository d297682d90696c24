package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"github.com/restartsys/restartsys/runsc-harness/internal/testrunsc"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBenchMedianSummarize(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("median(5,1,3) = %v, want 3", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median(4,1,3,2) = %v, want 2.5", m)
	}
	if m := median(nil); !math.IsNaN(m) {
		t.Errorf("median() = %v, want NaN", m)
	}
	in := []float64{110, 100, 90, 105, 95}
	s := summarize(in)
	if s.N != 5 || s.Median != 100 || s.Min != 90 || s.Max != 110 || !near(s.Spread, 0.2) {
		t.Errorf("summarize(%v) = %+v, want n=5 median=100 min=90 max=110 spread=0.2", in, s)
	}
	if in[0] != 110 || s.Values[0] != 110 {
		t.Errorf("summarize reordered its input or values: %v %v", in, s.Values)
	}
	if s := summarize(nil); s.N != 0 || s.Spread != 0 {
		t.Errorf("summarize(nil) = %+v", s)
	}
}

func TestBenchOverheadRatio(t *testing.T) {
	// Stock drifts up over the rounds (load); patched follows it 0.5%
	// behind. The paired ratios see 1.005 every round, where the ratio of
	// the medians alone would not.
	stock := []float64{1000, 1200, 1400, 1600, 1800, 2000}
	var patched []float64
	for _, s := range stock {
		patched = append(patched, s*1.005)
	}
	r := overheadStats("read-write/pipe", []float64{100, 101, 99, 100, 100, 100}, stock, patched)
	if r.Ratio.N != 6 || !near(r.Ratio.Median, 1.005) || !near(r.Ratio.Min, 1.005) || !near(r.Ratio.Max, 1.005) {
		t.Errorf("ratio = %+v, want 1.005 in every round", r.Ratio)
	}
	if r.Met != "yes" || r.Native.Median != 100 || r.Stock.Median != 1500 {
		t.Errorf("row = %+v, want met yes, native 100, stock 1500", r)
	}

	tests := []struct {
		ratios []float64
		want   string
	}{
		// 6 rounds give the smallest 95% interval: the extremes.
		{[]float64{1.00, 0.99, 1.01, 1.00, 0.995, 1.005}, "yes"},
		{[]float64{1.02, 1.03, 1.05, 1.04, 1.02, 1.03}, "no"},
		{[]float64{0.98, 1.03, 1.05, 1.00, 1.02, 1.01}, "inconclusive (95% CI 0.980–1.050)"},
		{[]float64{0.45, 0.66, 6.4, 1, 1, 1}, "inconclusive (95% CI 0.450–6.400)"},
		// One noisy round in 21 does not hide a clear result.
		{[]float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.6}, "yes"},
		{[]float64{1.00, 1.01, 1.02}, "inconclusive (3 rounds: too few for a 95% interval)"},
		{nil, "n/a"},
	}
	for _, tt := range tests {
		if got := ratioVerdict(ratioStat(tt.ratios), targetRatio); got != tt.want {
			t.Errorf("ratioVerdict(%v) = %q, want %q", tt.ratios, got, tt.want)
		}
	}
	// The sign-test interval: ranks 6 and 16 of 21 (P(Bin(21,1/2) <= 5) =
	// 0.013 <= 0.025 < P(<= 6) = 0.039), ranks 1 and 6 of 6, none for 5.
	vs := make([]float64, 21)
	for i := range vs {
		vs[i] = float64(21 - i)
	}
	if lo, hi, ok := medianCI(vs, 0.95); !ok || lo != 6 || hi != 16 {
		t.Errorf("medianCI(1..21) = %v, %v, %v; want 6, 16, true", lo, hi, ok)
	}
	if lo, hi, ok := medianCI([]float64{3, 1, 2, 6, 5, 4}, 0.95); !ok || lo != 1 || hi != 6 {
		t.Errorf("medianCI(1..6) = %v, %v, %v; want 1, 6, true", lo, hi, ok)
	}
	if _, _, ok := medianCI([]float64{1, 2, 3, 4, 5}, 0.95); ok {
		t.Error("medianCI of 5 values: want no interval (P(Bin(5,1/2) = 0) = 0.031 > 0.025)")
	}
	// A round missing on one side is left out of the ratios.
	if got := pairedRatios([]float64{2, 3, 4}, []float64{1, 0}); len(got) != 1 || got[0] != 2 {
		t.Errorf("pairedRatios = %v, want [2]", got)
	}
}

func TestBenchDetectStats(t *testing.T) {
	// 10 trials, 9 detected; one of those after the 1s bound.
	first := []float64{1, 2, 3, 4, 5, 6, 7, 8, 1500}
	r := detectStats(first, 10, time.Second)
	if r.Detected != 9 || r.Within != 8 || r.MedianMS == nil || *r.MedianMS != 5.5 || r.Met != "no" {
		t.Errorf("detectStats = %+v (median %v), want detected 9, within 8, median 5.5 (the undetected trial counts as last), met no", r, r.MedianMS)
	}
	r = detectStats([]float64{1, 2, 3, 4}, 4, time.Second)
	if r.Within != 4 || *r.MedianMS != 2.5 || r.Met != "yes" {
		t.Errorf("all fast: %+v, want within 4, median 2.5, met yes", r)
	}
	r = detectStats([]float64{20, 30, 40}, 3, time.Second)
	if r.Met != "no" {
		t.Errorf("median 30 ms > 10 ms: met %q, want no", r.Met)
	}
	r = detectStats([]float64{1}, 4, time.Second)
	if r.MedianMS != nil || r.Met != "no" {
		t.Errorf("1 of 4 detected: median %v, met %q, want none and no", r.MedianMS, r.Met)
	}

	rep := &guestio.Report{Program: "storm"}
	for i, us := range []int64{800, 1200, -1, 3000} {
		c := guestio.Case{Shape: "open/fifo/x", Counters: map[string]int64{"trial": int64(i + 1)}}
		if us >= 0 {
			c.Counters["first_eintr_us"] = us
		}
		rep.Cases = append(rep.Cases, c)
	}
	rows := detectRows(rep, "v0.0.0-20260905035102-160fafc42237", "/x/runsc", 4)
	if len(rows) != 1 || rows[0].Detected != 3 || *rows[0].MedianMS != 2.1 || rows[0].Failure != "" || rows[0].GVisor == "" {
		t.Errorf("detectRows = %+v, want one row, 3 detected, median 2.1 ms", rows)
	}
}

func TestBenchTable(t *testing.T) {
	m := 2.5
	res := &Result{
		Date: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC), CPUs: 2, Platform: "systrap",
		GVisor: "v0.0.0-20260518063529-209a0ce076a1", Rounds: 6, BenchArgs: []string{"-reps", "5"},
		Overhead: []overheadRow{overheadStats("read-write/pipe", []float64{1000, 1000, 1000, 1000, 1000, 1000},
			[]float64{10000, 11000, 12000, 10000, 11000, 12000}, []float64{10100, 11000, 12000, 10000, 11000, 12000})},
		Detection: []detectRow{{Shape: "recvfrom/unix-seqpacket/peek-trunc", GVisor: "v0.0.0-20260518063529-209a0ce076a1",
			Trials: 100, Detected: 100, Within: 100, MedianMS: &m, FirstMS: summarize([]float64{1, 2.5, 9}), Met: "yes"}},
		Cost: []costRow{
			{What: "matrix, whole suite", Variant: "stock", Seconds: 95, Target: 180, Met: "yes"},
			{What: "matrix, whole suite", Variant: "patched", Seconds: 100, Target: 180, Met: "yes"},
			{What: "build, warm (cache hit)", Variant: "stock+patched", Seconds: 1.2, Target: 30, Met: "yes"},
			{What: "build, cold (empty caches)", Variant: "patched", Target: 240, Met: "n/a", Skipped: true, Note: "not run: pass --cold"},
		},
	}
	var b bytes.Buffer
	Print(&b, res)
	out := b.String()
	for _, want := range []string{
		"gVisor v0.0.0-20260518063529-209a0ce076a1",
		"overhead read-write/pipe",
		"1 µs", "11 µs [10 µs–12 µs]", "1.000 [1.000–1.010]", "≤ 1.01", "yes", // ratios 1.01, 1, 1, 1, 1, 1: 95% CI 1.000–1.010
		"first EINTR recvfrom/unix-seqpacket/peek-trunc (stock 2026-05-18)", "median 2.5 ms, 100/100 ≤ 1s, max 9 ms",
		"matrix, whole suite", "1m35s", "1m40s", "1.053", "≤ 3m00s",
		"build, warm (cache hit) (stock+patched)", "1.2s",
		"not run: pass --cold",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if shortVersion("v0.0.0-20260905035102-160fafc42237") != "2026-09-05" || shortVersion("v1.2.3") != "v1.2.3" {
		t.Error("shortVersion")
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("bench result does not marshal: %v", err)
	}
}

// TestBenchGuestNative builds the bench guest and runs it natively for a
// moment: it must print one result per shape that benchOverhead can read.
// Timings are not judged.
func TestBenchGuestNative(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a C guest")
	}
	if err := guests.ProbeStatic(context.Background()); err != nil {
		t.Skip(err)
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := (&guests.Builder{RepoRoot: repo, OutDir: t.TempDir()}).Build(context.Background(), mustGuest("bench"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-reps", "2", "-ms", "5", "-wakes", "5").Output()
	if err != nil {
		t.Fatalf("bench guest: %v", err)
	}
	var o benchOutput
	if err := json.Unmarshal(out, &o); err != nil {
		t.Fatalf("bench guest output %q: %v", out, err)
	}
	if o.Program != "bench" || len(o.Results) != 3 {
		t.Fatalf("bench guest output %+v, want program bench and 3 shapes", o)
	}
	for _, r := range o.Results {
		if !(r.NsPerOp > 0) || len(r.Reps) != 2 || r.Ops <= 0 {
			t.Errorf("shape %s: %+v, want a positive ns/op from 2 reps", r.Shape, r)
		}
	}
	if err := exec.Command(bin, "-reps", "0").Run(); err == nil {
		t.Error("bench -reps 0 succeeded, want a usage error")
	}
}

// TestBenchSmoke runs the command for one short round of the overhead
// section under the tests' stock and patched runsc: the table and
// bench.json come out with a figure for every side of every shape. Timings
// are not judged.
func TestBenchSmoke(t *testing.T) {
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	testrunsc.Build(t) // skips in -short mode; fills the cache runBench reads
	out := t.TempDir()
	s, err := series.Load(patches.FS)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{GVisor: testrunsc.Version, FIFOGVisor: "latest", Cache: build.DefaultCacheDir(), Series: s, Sets: []string{"core"},
		Platform: "systrap", Rounds: 1, Reps: 1, MS: 5, Wakes: 5, Trials: 1,
		Skip: map[string]bool{"detect": true, "matrix": true, "build": true}, Out: out}
	if _, _, err := Run(context.Background(), c, os.Stderr); err != nil {
		t.Fatalf("bench %+v: %v", c, err)
	}
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.GVisor != testrunsc.Version || len(res.Overhead) != 3 || len(res.Detection) != 0 || len(res.Cost) != 0 {
		t.Fatalf("bench.json: version %s, %d overhead, %d detection, %d cost rows; want %s, 3, 0, 0",
			res.GVisor, len(res.Overhead), len(res.Detection), len(res.Cost), testrunsc.Version)
	}
	for _, o := range res.Overhead {
		if o.Native.N != 1 || o.Stock.N != 1 || o.Patched.N != 1 || o.Ratio.N != 1 || !(o.Ratio.Median > 0) {
			t.Errorf("%s: %+v, want one positive figure per side and a ratio", o.Shape, o)
		}
	}
}
