package docs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
)

// TestUpstreamReadiness: an upstream patch is ready only when it is ours
// to send and a recorded run on every required snapshot has each of its
// cases as expected, with nothing missing from the snapshot form.
func TestUpstreamReadiness(t *testing.T) {
	dir := t.TempDir()
	patch := "From 0 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] pipe: a fix\n\nBody.\n---\n"
	if err := os.WriteFile(filepath.Join(dir, "0001-a.patch"), []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := `{"master": "3c5eee17dc45659fb86843531074f38e78e0cc35", "master_date": "2026-08-21",
	  "patches": [{"file": "0001-a.patch", "send": true, "derive": [{"id": "0003"}], "derived_from": ["0003"], "cases": {"S.A": {"bug": "0003"}, "S.Guard": {}},
	    "issue": {"title": "FIFO keeps its data", "symptom": "A read returns old bytes.", "reproducer": "mkfifo f", "linux": "pipe_release() frees it."}}]}`
	if err := os.WriteFile(filepath.Join(dir, upstream.ManifestFile), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	man, err := upstream.LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	v1 := gvisor.Version{Version: "v0.0.0-20260518063529-209a0ce076a1", Time: time.Date(2026, 5, 18, 6, 35, 29, 0, time.UTC)}
	v2 := gvisor.Version{Version: "v0.0.0-20260905035102-160fafc42237", Time: time.Date(2026, 9, 5, 3, 51, 2, 0, time.UTC)}
	good := func(v string, problems ...string) upstream.Record {
		ok := map[string]upstream.Outcome{"native": {Status: upstream.Pass}, "stock": {Status: upstream.Fail}, "patched": {Status: upstream.Pass}}
		return upstream.Record{Measured: "2026-12-01", Command: "x", Result: &upstream.Result{Version: v, Rows: []*upstream.Row{
			{Patch: "0001-a.patch", Case: "S.A", Bug: "0003", StockAffected: true, Results: ok, Problems: problems},
			{Patch: "0001-a.patch", Case: "S.Guard", Results: ok},
		}}}
	}
	for _, tc := range []struct {
		name    string
		send    bool
		records map[string]upstream.Record
		lacks   string
		want    string // a fragment of the first reason; "" for ready
	}{
		{"no runs", true, nil, "", "no `upstream verify --record` run on 2026-05-18"},
		{"one snapshot only", true, map[string]upstream.Record{v1.Version: good(v1.Version)}, "", "no `upstream verify --record` run on 2026-09-05"},
		{"a problem", true, map[string]upstream.Record{v1.Version: good(v1.Version, "stock: pass, want fail"), v2.Version: good(v2.Version)}, "", "S.A on 2026-05-18: stock: pass, want fail"},
		{"snapshot form lacks part", true, map[string]upstream.Record{v1.Version: good(v1.Version), v2.Version: good(v2.Version)}, "the size reset", "lacks part of the fix (the size reset)"},
		{"not ours", false, map[string]upstream.Record{v1.Version: good(v1.Version), v2.Version: good(v2.Version)}, "", "not ours to send"},
		{"snapshot form not derived", true, map[string]upstream.Record{v1.Version: good(v1.Version), v2.Version: good(v2.Version)}, "", "not generated from this patch"},
		{"no issue text", true, map[string]upstream.Record{v1.Version: good(v1.Version), v2.Version: good(v2.Version)}, "", "no issue text"},
		{"ready", true, map[string]upstream.Record{v1.Version: good(v1.Version), v2.Version: good(v2.Version)}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			man.Patches[0].Send = tc.send
			derive := man.Patches[0].Derive
			if tc.name == "snapshot form not derived" {
				man.Patches[0].Derive = nil
			}
			issue := man.Patches[0].Issue
			if tc.name == "no issue text" {
				man.Patches[0].Issue = nil
			}
			defer func() { man.Patches[0].Derive, man.Patches[0].Issue = derive, issue }()
			for _, r := range tc.records {
				r.Result.Rows[0].PatchedLacks = tc.lacks
			}
			f := &UpstreamForm{Manifest: man, Records: tc.records, Required: []gvisor.Version{v1, v2}}
			why := f.notReady(man.Patches[0])
			switch {
			case tc.want == "" && len(why) > 0:
				t.Errorf("not ready: %q, want ready", why)
			case tc.want != "" && (len(why) == 0 || !strings.Contains(why[0], tc.want)):
				t.Errorf("reasons %q, want the first to hold %q", why, tc.want)
			}
			var b bytes.Buffer
			if err := f.render(&b); err != nil {
				t.Fatal(err)
			}
			if wantLine := "- Ready to send: yes."; (tc.want == "") != strings.Contains(b.String(), wantLine) {
				t.Errorf("rendered page and readiness disagree:\n%s", b.String())
			}
			if hasIssue := man.Patches[0].Issue != nil; hasIssue != strings.Contains(b.String(), "**FIFO keeps its data**") {
				t.Errorf("issue text rendered: %v, want %v:\n%s", !hasIssue, hasIssue, b.String())
			}
		})
	}
}
