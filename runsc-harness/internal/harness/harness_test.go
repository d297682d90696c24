package harness

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

// TestCollectThenRun: runs made ahead of time (Collect) are what Run
// reports, and Run does not make them again. This is what lets verify run
// the storm natively while runsc builds.
func TestCollectThenRun(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	o := Options{Guests: []string{"storm"}, GuestArgs: []string{"-duration", "50ms"}, Out: out}
	var first bytes.Buffer
	o.Log = &first
	runs, err := Collect(ctx, o, true)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(runs) != 1 || runs[0].Variant != report.NativeVariant || runs[0].Failure != "" || runs[0].Report == nil {
		t.Fatalf("Collect natively = %+v, want one native run with a report", runs)
	}
	if got := strings.Count(first.String(), "storm under native:"); got != 1 {
		t.Errorf("Collect ran the storm natively %d times, want 1:\n%s", got, first.String())
	}

	// Collect without native, and Run with the runs done: nothing runs.
	var second bytes.Buffer
	o.Log, o.Done = &second, runs
	again, err := Collect(ctx, o, false)
	if err != nil {
		t.Fatalf("Collect with Done: %v", err)
	}
	d, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run with Done: %v", err)
	}
	if strings.Contains(second.String(), "storm under native:") {
		t.Errorf("a run in Done was made again:\n%s", second.String())
	}
	if diff := cmp.Diff(runs, again); diff != "" {
		t.Errorf("Collect with every run done changed them (-done +got):\n%s", diff)
	}
	if len(d.Runs) != 1 || d.Runs[0].DurationMS != runs[0].DurationMS || d.Runs[0].LogDir != runs[0].LogDir {
		t.Errorf("Run reports %+v, want the run made beforehand %+v", d.Runs, runs[0])
	}

	// Without Done, Collect without native makes nothing.
	o.Done = nil
	none, err := Collect(ctx, o, false)
	if err != nil || len(none) != 0 {
		t.Errorf("Collect(native=false) without runscs = %+v, %v; want no runs", none, err)
	}
}
