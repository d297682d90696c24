package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
)

// TestUpstreamVerify runs `upstream verify` as CI does, on the default
// affected release and on the newest snapshot: every case of
// patches/upstream passes natively and on patched runsc, and every case
// written for a bug fails on stock runsc of a version with that bug. It
// fails, never skips, where it cannot run (not root, no g++ or gtest).
func TestUpstreamVerify(t *testing.T) {
	if err := sandbox.CheckRoot(); err != nil {
		t.Fatalf("upstream verify needs root to run runsc: %v", err)
	}
	if err := upstream.CheckToolchain("/usr/include"); err != nil {
		t.Fatal(err)
	}
	for _, gv := range []string{"2026-05-18", "latest"} {
		t.Run(gv, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "result.json")
			stdout, stderr, code := runCLI(t, nil, "upstream", "verify", "--gvisor", gv, "--json", out)
			if code != 0 {
				t.Fatalf("upstream verify --gvisor %s: exit %d\n%s\n%s", gv, code, stdout, stderr)
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var res upstream.Result
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			perPatch := map[string]int{}
			bugSeen := 0
			for _, r := range res.Rows {
				perPatch[r.Patch]++
				if r.StockAffected {
					if s := r.Results["stock"].Status; s != upstream.Fail && s != upstream.Hang {
						t.Errorf("%s: stock %s, want fail", r.Case, s)
					}
					bugSeen++
				}
			}
			if len(perPatch) == 0 || bugSeen == 0 {
				t.Errorf("no case ran (%d patches) or none saw a bug on stock (%d)", len(perPatch), bugSeen)
			}
		})
	}
}

// TestDerivedPatchesUpToDate runs `upstream derive --check` as CI does: the
// snapshot patches that patches/upstream derives are what derive makes of
// it now, so that no one edits a derived patch by hand or forgets to derive
// after editing an upstream one. (That they apply to every snapshot the
// series map names is TestCheckEverySnapshot's job.)
func TestDerivedPatchesUpToDate(t *testing.T) {
	stdout, stderr, code := runCLI(t, nil, "upstream", "derive", "--check")
	if code != 0 {
		t.Fatalf("upstream derive --check: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
