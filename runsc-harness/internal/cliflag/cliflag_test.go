package cliflag

import (
	"errors"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

func TestList(t *testing.T) {
	l := &List{Vals: []string{"systrap"}}
	for _, s := range []string{"ptrace, systrap", "", "x"} {
		if err := l.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.String(); got != "ptrace,systrap,x" {
		t.Errorf("List = %q, want the default replaced by every value set", got)
	}
}

func TestRunscs(t *testing.T) {
	var r Runscs
	for _, s := range []string{"stock=/a", "patched-v2=/b"} {
		if err := r.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if len(r) != 2 || r[0].Kind != report.Stock || r[1].Kind != report.Patched || r[1].Path != "/b" {
		t.Errorf("Runscs = %+v", r)
	}
	for s, want := range map[string]string{
		"mine=/c":    "must start with",
		"stock=/d":   `runsc "stock" given twice`,
		"stock":      "want NAME=PATH",
		"stock/x=/e": "no slashes or spaces",
	} {
		if err := r.Set(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%q) = %v, want an error saying %q", s, err, want)
		}
	}
}

func TestSeriesLoad(t *testing.T) {
	s := Series{Sets: "core"}
	ser, sel, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) == 0 || !ser.IsBaseline(sel[0]) {
		t.Errorf("selection does not start with the baseline (compat) patches: %v", sel)
	}
	s.Sets = "core,nope"
	_, _, err = s.Load()
	var ue UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `--sets: unknown patch set "nope"`) {
		t.Errorf("unknown set: %v, want a UsageError naming --sets", err)
	}
}
