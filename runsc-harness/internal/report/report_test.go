package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func cs(shape, disp, result string, handler bool, counters map[string]int64) guestio.Case {
	return guestio.Case{Shape: shape, Disposition: disp, Observed: guestio.Observed{Result: result, HandlerRan: handler}, Counters: counters}
}

func zero() map[string]int64 { return map[string]int64{"eintr": 0, "wrong_bytes": 0, "rounds": 100} }

// fixture is two guests under three variants: stock diverges in several
// ways, patched/systrap has one expected and one unexpected divergence,
// patched/ptrace hung.
func fixture() ([]Variant, []Run, []Expected) {
	variants := []Variant{
		{Name: "stock/systrap/none", Kind: Stock, Runsc: "/x/runsc-stock", Platform: "systrap", Network: "none", DirectFS: "default"},
		{Name: "patched/systrap/none", Kind: Patched, Runsc: "/x/runsc-patched", Platform: "systrap", Network: "none", DirectFS: "default"},
		{Name: "patched/ptrace/none", Kind: Patched, Runsc: "/x/runsc-patched", Platform: "ptrace", Network: "none", DirectFS: "default"},
	}
	native := &guestio.Report{Program: "storm", Cases: []guestio.Case{
		cs("recvfrom/peek", "restart", "ok", true, zero()),
		cs("recvfrom/peek", "norestart", "EINTR", true, map[string]int64{"eintr": 1}),
		cs("open/fifo", "restart", "ok", true, zero()),
		cs("open/fifo", "norestart", "EINTR", true, map[string]int64{"eintr": 1}),
	}}
	stock := &guestio.Report{Program: "storm", Cases: []guestio.Case{
		cs("recvfrom/peek", "restart", "EINTR", true, map[string]int64{"eintr": 7, "wrong_bytes": 0}),
		cs("recvfrom/peek", "norestart", "EINTR", true, map[string]int64{"eintr": 3}),
		cs("open/fifo", "restart", "ok", true, map[string]int64{"eintr": 0, "wrong_bytes": 2}),
		// open/fifo norestart is missing; a cell native never had appears.
		cs("open/fifo", "ignore", "ok", false, nil),
	}}
	patched := &guestio.Report{Program: "storm", Cases: []guestio.Case{
		cs("recvfrom/peek", "restart", "ok", true, zero()),
		cs("recvfrom/peek", "norestart", "EINTR", true, map[string]int64{"eintr": 1}),
		cs("open/fifo", "restart", "EINTR", true, map[string]int64{"eintr": 1}),
		cs("open/fifo", "norestart", "ok", false, nil),
	}}
	mnative := &guestio.Report{Program: "matrix", Cases: []guestio.Case{cs("read/pipe", "block", "ok", false, nil)}}
	runs := []Run{
		{Guest: "storm", Variant: NativeVariant, Report: native, LogDir: "/out/logs/storm-native", DurationMS: 1000},
		{Guest: "storm", Variant: "stock/systrap/none", Report: stock, LogDir: "/out/logs/1", DurationMS: 2000},
		{Guest: "storm", Variant: "patched/systrap/none", Report: patched, LogDir: "/out/logs/2", DurationMS: 2000},
		{Guest: "storm", Variant: "patched/ptrace/none", ExitCode: -1, LogDir: "/out/logs/3", DurationMS: 3000,
			Failure: `killed at its deadline after 3s; logs in /out/logs/3; last output: stdout "", stderr "storm: open/fifo"`},
		{Guest: "matrix", Variant: NativeVariant, Report: mnative},
		{Guest: "matrix", Variant: "stock/systrap/none", Report: mnative},
		{Guest: "matrix", Variant: "patched/systrap/none", Report: mnative},
		{Guest: "matrix", Variant: "patched/ptrace/none", Report: mnative},
	}
	expected := []Expected{
		{Shape: "open/fifo", Disposition: "*", Kind: Patched, Reason: "FIFO open fixed by patch 0003"},
		{Shape: "recvfrom/peek", Disposition: "restart", Kind: Stock, Reason: "the ConvertIntr bug"},
	}
	return variants, runs, expected
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from golden (-want +got):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	d, err := Compare(fixture())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.json", func(b *bytes.Buffer) error { return WriteJSON(b, d) }},
		{"junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, d) }},
		{"report.md", func(b *bytes.Buffer) error { return WriteMarkdown(b, d) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestCompareDivergences(t *testing.T) {
	d, err := Compare(fixture())
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ variant, shape, disp, expected string }
	var got []key
	for _, dv := range d.Divergences {
		got = append(got, key{dv.Variant, dv.Shape, dv.Disposition, dv.Expected})
	}
	want := []key{
		{"stock/systrap/none", "recvfrom/peek", "restart", "the ConvertIntr bug"},
		{"stock/systrap/none", "open/fifo", "restart", ""},
		{"stock/systrap/none", "open/fifo", "norestart", ""},
		{"stock/systrap/none", "open/fifo", "ignore", ""},
		{"patched/systrap/none", "open/fifo", "restart", "FIFO open fixed by patch 0003"},
		{"patched/systrap/none", "open/fifo", "norestart", "FIFO open fixed by patch 0003"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(key{})); diff != "" {
		t.Errorf("divergences (-want +got):\n%s", diff)
	}
	// The stock eintr=3 under norestart is not a divergence: native had 1.
	wantProblems := []string{
		`storm under patched/ptrace/none: run failed: killed at its deadline after 3s; logs in /out/logs/3; last output: stdout "", stderr "storm: open/fifo"`,
	}
	if diff := cmp.Diff(wantProblems, d.Problems()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestProblemsUnexpectedPatched(t *testing.T) {
	v, runs, _ := fixture()
	d, err := Compare(v, runs[:4], nil) // no expectations
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, p := range d.Problems() {
		if strings.Contains(p, "patched/systrap/none") && strings.Contains(p, "diverges from native") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("got %d unexpected patched divergences, want 2: %q", n, d.Problems())
	}
}

func TestJudge(t *testing.T) {
	ok := &Side{Observed: guestio.Observed{Result: "ok", HandlerRan: true}, Counters: map[string]int64{"eintr": 0}}
	tests := []struct {
		name          string
		native, runsc *Side
		want          []string
	}{
		{"same", ok, ok, nil},
		{"missing runsc", ok, nil, []string{"missing in the runsc report"}},
		{"missing native", nil, ok, []string{"missing in the native report"}},
		{"result", ok, &Side{Observed: guestio.Observed{Result: "EINTR", HandlerRan: true}}, []string{"result: native ok, runsc EINTR"}},
		{"handler", ok, &Side{Observed: guestio.Observed{Result: "ok"}}, []string{"handler_ran: native true, runsc false"}},
		{"eintr counter", ok, &Side{Observed: ok.Observed, Counters: map[string]int64{"eintr": 2}}, []string{"eintr: native 0, runsc 2 (must stay 0)"}},
		{"absent counter is 0", &Side{Observed: ok.Observed}, &Side{Observed: ok.Observed, Counters: map[string]int64{"wrong_bytes": 1}}, []string{"wrong_bytes: native 0, runsc 1 (must stay 0)"}},
		{"native nonzero: no rule", &Side{Observed: ok.Observed, Counters: map[string]int64{"eintr": 1}}, &Side{Observed: ok.Observed, Counters: map[string]int64{"eintr": 9}}, nil},
		{"other counters ignored", ok, &Side{Observed: ok.Observed, Counters: map[string]int64{"rounds": 5, "interrupted": 3}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, judge(tc.native, tc.runsc)); diff != "" {
				t.Errorf("judge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONRoundTripAndRecompare(t *testing.T) {
	d, err := Compare(fixture())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, d); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	again, err := Recompare(back, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, again); diff != "" {
		t.Errorf("recompare with the saved expectations (-want +got):\n%s", diff)
	}
	// With no expectations at all the patched divergences become problems.
	none, err := Recompare(back, []Expected{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(none.Problems()), 1+2; got != want {
		t.Errorf("problems without expectations = %d, want %d: %q", got, want, none.Problems())
	}
}

func TestCompareRejects(t *testing.T) {
	v, runs, _ := fixture()
	tests := []struct {
		name     string
		variants []Variant
		runs     []Run
		want     string
	}{
		{"unknown variant", v, append(runs[:1:1], Run{Guest: "storm", Variant: "nope"}), "unknown variant"},
		{"two runs", v, append(runs[:1:1], runs[0]), "two runs"},
		{"native name", append(v[:0:0], Variant{Name: NativeVariant}), nil, "bad variant name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compare(tc.variants, tc.runs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compare = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadExpected(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
		want                []Expected
	}{
		{"ok", `[{"shape":"open/fifo","disposition":"*","kind":"patched","reason":"r"}]`, "",
			[]Expected{{Shape: "open/fifo", Disposition: "*", Kind: Patched, Reason: "r"}}},
		{"bad kind", `[{"shape":"a","disposition":"b","kind":"other","reason":"r"}]`, "kind", nil},
		{"no reason", `[{"shape":"a","disposition":"b","kind":"stock"}]`, "required", nil},
		{"unknown field", `[{"shape":"a","disposition":"b","kind":"stock","reason":"r","x":1}]`, "unknown field", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "e.json")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadExpected(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStaleExpected(t *testing.T) {
	v, runs, base := fixture()
	// Runs without the stock run of matrix, and a patched/ptrace-only setup
	// where the one run failed.
	noStockMatrix := append(append([]Run{}, runs[:5]...), runs[6:]...)
	var patchedFailed []Run
	patchedFailed = append(patchedFailed, runs[0], runs[3])

	peekRestartPatched := Expected{Guest: "storm", Shape: "recvfrom/peek", Disposition: "restart", Kind: Patched, Reason: "fixed long ago"}
	matrixStock := Expected{Guest: "matrix", Shape: "read/pipe", Disposition: "block", Kind: Stock, Reason: "stock matrix"}
	matrixAnyPatched := Expected{Guest: "matrix", Shape: "*", Disposition: "*", Kind: Patched, Reason: "every patched matrix cell"}
	anyGuestFifo := Expected{Shape: "open/fifo", Disposition: "restart", Kind: Stock, Reason: "stock FIFO open, any guest"}
	notRun := Expected{Guest: "storm", Shape: "nope", Disposition: "restart", Kind: Patched, Reason: "shape not in this run"}
	otherGuest := Expected{Guest: "keyring", Shape: "*", Disposition: "*", Kind: Patched, Reason: "guest not in this run"}
	fixedLater := peekRestartPatched
	fixedLater.Before = "v0.0.0-20260905035102-160fafc42237"

	tests := []struct {
		name     string
		variants []Variant
		runs     []Run
		expected []Expected
		want     []Expected
	}{
		{"fixture: every entry still diverges", v, runs, base, nil},
		{"no longer diverges under patched/systrap", v, runs, append(base, peekRestartPatched), []Expected{peekRestartPatched}},
		{"stock matrix entry, stock matrix ran", v, runs, []Expected{matrixStock}, []Expected{matrixStock}},
		{"stock matrix entry, no stock matrix run", v, noStockMatrix, []Expected{matrixStock}, nil},
		{"wildcards over cells that all match native", v, runs, []Expected{matrixAnyPatched}, []Expected{matrixAnyPatched}},
		{"any guest: one guest diverges, another does not", v, runs, []Expected{anyGuestFifo}, nil},
		{"no cell of the entry ran", v, runs, []Expected{notRun, otherGuest}, nil},
		{"the only run of the kind failed", v[2:], patchedFailed, []Expected{peekRestartPatched}, nil},
		{"before: runsc of the fixed version", withGVisor(v, "v0.0.0-20260905035102-160fafc42237"), runs, []Expected{fixedLater}, nil},
		{"before: runsc of an older version", withGVisor(v, "v0.0.0-20260518063529-209a0ce076a1"), runs, []Expected{fixedLater}, []Expected{fixedLater}},
		{"before: runsc of unknown version", v, runs, []Expected{fixedLater}, []Expected{fixedLater}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Compare(tc.variants, tc.runs, tc.expected)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, d.Stale); diff != "" {
				t.Errorf("stale (-want +got):\n%s", diff)
			}
			var got []string
			for _, p := range d.Problems() {
				if strings.HasPrefix(p, "expected divergence no longer diverges") {
					got = append(got, p)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("stale problems = %q, want %d", got, len(tc.want))
			}
			for i, e := range tc.want {
				if !strings.Contains(got[i], e.Shape) || !strings.Contains(got[i], e.Reason) || !strings.Contains(got[i], string(e.Kind)) {
					t.Errorf("problem %q does not name the entry %+v", got[i], e)
				}
			}
		})
	}
}

func TestAllowStale(t *testing.T) {
	v, runs, base := fixture()
	stale := Expected{Guest: "storm", Shape: "recvfrom/peek", Disposition: "restart", Kind: Patched, Reason: "fixed long ago"}
	d, err := Compare(v, runs, append(base, stale))
	if err != nil {
		t.Fatal(err)
	}
	want := `expected divergence no longer diverges (remove the entry, or allow stale entries): storm: recvfrom/peek [restart] on patched runsc ("fixed long ago")`
	if p := d.Problems(); !slices.Contains(p, want) {
		t.Errorf("problems %q lack %q", p, want)
	}
	n := len(d.Problems())
	d.AllowStale = true
	if got := len(d.Problems()); got != n-1 {
		t.Errorf("with AllowStale: %d problems, want %d: %q", got, n-1, d.Problems())
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Expected divergences that no longer diverge") ||
		!strings.Contains(md.String(), "| storm | recvfrom/peek | restart | patched | fixed long ago |") {
		t.Errorf("markdown lacks the stale entry:\n%s", md.String())
	}

	// The JSON keeps both; Recompare keeps AllowStale and recomputes Stale.
	var b bytes.Buffer
	if err := WriteJSON(&b, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"stale_expected"`) || !strings.Contains(b.String(), `"allow_stale": true`) {
		t.Errorf("JSON lacks stale_expected or allow_stale:\n%s", b.String())
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	again, err := Recompare(back, base)
	if err != nil {
		t.Fatal(err)
	}
	if !again.AllowStale || len(again.Stale) != 0 {
		t.Errorf("recompared without the stale entry: AllowStale=%t Stale=%v, want true and none", again.AllowStale, again.Stale)
	}
}

// withGVisor returns a copy of vs whose runsc were built from gVisor v.
func withGVisor(vs []Variant, v string) []Variant {
	out := append([]Variant{}, vs...)
	for i := range out {
		out[i].GVisor = v
	}
	return out
}
