package series

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/restartsys/restartsys/patches"
)

const (
	v1 = "v0.0.0-20240101000000-aaaaaaaaaaaa"
	v2 = "v0.0.0-20250101000000-bbbbbbbbbbbb"
	v3 = "v0.0.0-20260101000000-cccccccccccc"
)

// fixPatch turns "return bug" into "return fixed" in pkg/a/a.go.
const fixPatch = `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
Subject: [PATCH] a: fix

---
diff --git a/pkg/a/a.go b/pkg/a/a.go
--- a/pkg/a/a.go
+++ b/pkg/a/a.go
@@ -1,3 +1,3 @@
 package a
 
-func F() string { return "bug" }
+func F() string { return "fixed" }
`

const goodMap = `{
  "name": "test",
  "module": "example.com/m",
  "sets": {"core": "core fixes"},
  "patches": [
    {"id": "0001", "file": "core/0001.patch", "set": "core", "summary": "fix F",
     "affected": {"from": "` + v1 + `", "through": "` + v2 + `"},
     "fixed_upstream_in": "` + v3 + `",
     "detect": {"file": "pkg/a/a.go", "affected_if_contains": "return \"bug\""}}
  ]
}`

func testFS(mapJSON string) fstest.MapFS {
	return fstest.MapFS{
		MapFile:           {Data: []byte(mapJSON)},
		"core/0001.patch": {Data: []byte(fixPatch)},
	}
}

func TestLoadRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(string) string
		files   func(fstest.MapFS)
		wantErr string
	}{
		{name: "not json", edit: func(string) string { return "{" }, wantErr: "parsing series.json"},
		{name: "unknown field", edit: func(s string) string { return strings.Replace(s, `"name"`, `"nmae"`, 1) }, wantErr: "unknown field"},
		{name: "missing patch file", files: func(f fstest.MapFS) { delete(f, "core/0001.patch") }, wantErr: `patch 1 ("0001"): patch file missing`},
		{name: "not a patch", files: func(f fstest.MapFS) { f["core/0001.patch"] = &fstest.MapFile{Data: []byte("hello\n")} }, wantErr: "is not a git patch"},
		{name: "unknown set", edit: func(s string) string { return strings.Replace(s, `"set": "core"`, `"set": "extra"`, 1) }, wantErr: `unknown set "extra"`},
		{name: "bad version", edit: func(s string) string { return strings.Replace(s, v1, "2024-01-01", 1) }, wantErr: `"2024-01-01" is not a module version`},
		{name: "fixed inside range", edit: func(s string) string {
			return strings.Replace(s, `"fixed_upstream_in": "`+v3, `"fixed_upstream_in": "`+v2, 1)
		}, wantErr: "lies inside the affected range"},
		{name: "no detect", edit: func(s string) string {
			return strings.Replace(s, `"affected_if_contains": "return \"bug\""`, `"affected_if_contains": ""`, 1)
		}, wantErr: "detect.file and detect.affected_if_contains are required"},
		{name: "escaping path", edit: func(s string) string { return strings.Replace(s, `"core/0001.patch"`, `"../0001.patch"`, 1) }, wantErr: "bad file path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := goodMap
			if tc.edit != nil {
				m = tc.edit(m)
			}
			fsys := testFS(m)
			if tc.files != nil {
				tc.files(fsys)
			}
			_, err := Load(fsys)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestDuplicateAndOrder(t *testing.T) {
	m := strings.Replace(goodMap, `  ]
}`, `  ,{"id": "0001", "file": "core/0001.patch", "set": "core", "summary": "again",
     "detect": {"file": "pkg/a/a.go", "affected_if_contains": "x"}}]
}`, 1)
	if _, err := Load(testFS(m)); err == nil || !strings.Contains(err.Error(), "duplicate id") {
		t.Fatalf("Load() error = %v, want duplicate id", err)
	}
}

func TestRealSeriesLoads(t *testing.T) {
	s, err := Load(patches.FS)
	if err != nil {
		t.Fatalf("Load(patches.FS): %v", err)
	}
	core, err := s.Select([]string{"core"})
	if err != nil {
		t.Fatal(err)
	}
	if len(core) < 2 {
		t.Fatalf("core set has %d patches, want at least 2", len(core))
	}
	for _, p := range core {
		if len(s.Files(p)) == 0 {
			t.Errorf("patch %s changes no files", p.ID)
		}
	}
	wantPkgs := []string{"pkg/errors/linuxerr", "pkg/sentry/kernel/pipe"}
	if diff := cmp.Diff(wantPkgs, s.Packages(core)); diff != "" {
		t.Errorf("Packages(core) mismatch (-want +got):\n%s", diff)
	}
	if id := s.ID(core); !strings.HasPrefix(id, "restartsys-core-") || len(id) != len("restartsys-core-")+12 {
		t.Errorf("ID(core) = %q, want restartsys-core-<12 hex>", id)
	}
}

func TestHashChangesWithContent(t *testing.T) {
	a, err := Load(testFS(goodMap))
	if err != nil {
		t.Fatal(err)
	}
	fsys := testFS(goodMap)
	fsys["core/0001.patch"] = &fstest.MapFile{Data: []byte(fixPatch + " \n")}
	b, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash(a.Patches) == b.Hash(b.Patches) {
		t.Error("hash did not change when a patch file changed")
	}
	if a.Hash(a.Patches) == a.Hash(nil) {
		t.Error("hash did not change with the selection")
	}
	c, _ := Load(testFS(goodMap))
	if a.Hash(a.Patches) != c.Hash(c.Patches) {
		t.Error("hash differs between two loads of the same series")
	}
	d, err := Load(testFS(strings.Replace(goodMap, `"return \"bug\""`, `"return \"bug\" "`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash(a.Patches) == d.Hash(d.Patches) {
		t.Error("hash did not change when the patch's detect rule changed")
	}
}

// TestHashIgnoresUnselectedPatches checks that adding a patch of another set
// to the map leaves the hash of the core selection alone.
func TestHashIgnoresUnselectedPatches(t *testing.T) {
	a, err := Load(testFS(goodMap))
	if err != nil {
		t.Fatal(err)
	}
	extended := strings.Replace(goodMap, `"sets": {"core": "core fixes"}`, `"sets": {"core": "core fixes", "parity": "more"}`, 1)
	extended = strings.Replace(extended, `"return \"bug\""}}
  ]`, `"return \"bug\""}},
    {"id": "0101", "file": "core/0001.patch", "set": "parity", "summary": "another",
     "affected": {"from": "`+v1+`"},
     "detect": {"file": "pkg/a/a.go", "affected_if_contains": "return"}}
  ]`, 1)
	b, err := Load(testFS(extended))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Patches) != 2 {
		t.Fatalf("extended map has %d patches, want 2", len(b.Patches))
	}
	coreA, _ := a.Select([]string{"core"})
	coreB, _ := b.Select([]string{"core"})
	if a.Hash(coreA) != b.Hash(coreB) {
		t.Error("adding a parity patch changed the hash of the core selection")
	}
	if b.Hash(coreB) == b.Hash(b.Patches) {
		t.Error("core and core+parity hash alike")
	}
}

func TestSelectUnknownSet(t *testing.T) {
	s, err := Load(testFS(goodMap))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Select([]string{"nope"}); err == nil || !strings.Contains(err.Error(), `unknown patch set "nope" (known: core)`) {
		t.Fatalf("Select error = %v", err)
	}
}

func writeTree(t *testing.T, body string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(dir, "pkg/a"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package a\n\nfunc F() string { return " + body + " }\n"
	if err := os.WriteFile(filepath.Join(dir, "pkg/a/a.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPlanAndApply(t *testing.T) {
	s, err := Load(testFS(goodMap))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		body    string
		version string
		want    Decision
	}{
		{name: "affected", body: `"bug"`, version: v2, want: Decision{ID: "0001", Status: Apply}},
		{name: "map says fixed", body: `"bug"`, version: v3, want: Decision{ID: "0001", Status: Apply, MapDisagrees: true, Detail: "series map says not affected, but the source has the bug"}},
		{name: "upstream", body: `"fine"`, version: v3, want: Decision{ID: "0001", Status: Upstream}},
		{name: "before the range", body: `"fine"`, version: "v0.0.0-20230101000000-000000000000", want: Decision{ID: "0001", Status: NotHere}},
		{name: "map wrong", body: `"fine"`, version: v1, want: Decision{ID: "0001", Status: Upstream, MapDisagrees: true, Detail: "series map says affected, but the source is fixed"}},
		{name: "drifted", body: `"bug" /* moved */`, version: v2, want: Decision{ID: "0001", Status: Failed, Detail: "patch failed: pkg/a/a.go:1; pkg/a/a.go: patch does not apply"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := writeTree(t, tc.body)
			plan, err := s.Plan(ctx, tree, tc.version, s.Patches)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Decision{tc.want}, plan, cmpopts.IgnoreFields(Decision{}, "Patch")); diff != "" {
				t.Errorf("Plan mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// A tree without the patch's file: the code moved. Outside the range
	// that is another patch's business; inside it, a failure to report.
	for _, tc := range []struct {
		name    string
		version string
		want    Decision
	}{
		{name: "file missing before the range", version: "v0.0.0-20230101000000-000000000000", want: Decision{ID: "0001", Status: NotHere}},
		{name: "file missing in the range", version: v2, want: Decision{ID: "0001", Status: Failed, Detail: "pkg/a/a.go is missing from this tree"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := writeTree(t, `"bug"`)
			if err := os.Remove(filepath.Join(tree, "pkg/a/a.go")); err != nil {
				t.Fatal(err)
			}
			plan, err := s.Plan(ctx, tree, tc.version, s.Patches)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Decision{tc.want}, plan, cmpopts.IgnoreFields(Decision{}, "Patch")); diff != "" {
				t.Errorf("Plan mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("not here is skipped", func(t *testing.T) {
		tree := writeTree(t, `"fine"`)
		const v0 = "v0.0.0-20230101000000-000000000000"
		plan, err := s.Plan(ctx, tree, v0, s.Patches)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPlan(ctx, tree, v0, plan); err != nil {
			t.Fatalf("ApplyPlan with a not-here patch: %v", err)
		}
	})

	t.Run("apply", func(t *testing.T) {
		tree := writeTree(t, `"bug"`)
		plan, err := s.Plan(ctx, tree, v2, s.Patches)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPlan(ctx, tree, v2, plan); err != nil {
			t.Fatalf("ApplyPlan: %v", err)
		}
		got, _ := os.ReadFile(filepath.Join(tree, "pkg/a/a.go"))
		if !strings.Contains(string(got), `"fixed"`) {
			t.Errorf("patched file = %q, want the fix", got)
		}
	})

	t.Run("apply failure names patch and file", func(t *testing.T) {
		tree := writeTree(t, `"bug" /* moved */`)
		plan, err := s.Plan(ctx, tree, v2, s.Patches)
		if err != nil {
			t.Fatal(err)
		}
		err = s.ApplyPlan(ctx, tree, v2, plan)
		var ae *ApplyError
		if !errors.As(err, &ae) {
			t.Fatalf("ApplyPlan error = %v, want *ApplyError", err)
		}
		want := "patch 0001 (0001.patch) does not apply to " + v2 + ": patch failed: pkg/a/a.go:1; pkg/a/a.go: patch does not apply"
		if err.Error() != want {
			t.Errorf("error = %q\nwant    %q", err, want)
		}
	})

	t.Run("inside another git repository", func(t *testing.T) {
		// A build tree under a checkout (such as out/ in this repo) must
		// still be patched relative to itself.
		outer := t.TempDir()
		if out, err := runGit(outer, "init", "-q"); err != nil {
			t.Skipf("git init: %v %s", err, out)
		}
		tree := filepath.Join(outer, "sub", "tree")
		if err := os.MkdirAll(filepath.Dir(tree), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(writeTree(t, `"bug"`), tree); err != nil {
			t.Fatal(err)
		}
		plan, err := s.Plan(ctx, tree, v2, s.Patches)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPlan(ctx, tree, v2, plan); err != nil {
			t.Fatalf("ApplyPlan: %v", err)
		}
		got, _ := os.ReadFile(filepath.Join(tree, "pkg/a/a.go"))
		if !strings.Contains(string(got), `"fixed"`) {
			t.Errorf("patched file = %q, want the fix", got)
		}
	})
}

// followUp builds on fixPatch: it only applies once 0001 is in.
const followUp = `Subject: [PATCH] a: follow up

---
diff --git a/pkg/a/a.go b/pkg/a/a.go
--- a/pkg/a/a.go
+++ b/pkg/a/a.go
@@ -1,3 +1,3 @@
 package a
 
-func F() string { return "fixed" }
+func F() string { return "fixed twice" }
`

// TestPlanIsCumulative checks that a patch is checked against the tree with
// the earlier patches of the series applied, as ApplyPlan applies them.
func TestPlanIsCumulative(t *testing.T) {
	m := strings.Replace(goodMap, `  ]
}`, `  ,{"id": "0002", "file": "core/0002.patch", "set": "core", "summary": "follow up",
     "affected": {"from": "`+v1+`"},
     "detect": {"file": "pkg/a/a.go", "affected_if_contains": "return \"bug\""}}]
}`, 1)
	fsys := testFS(m)
	fsys["core/0002.patch"] = &fstest.MapFile{Data: []byte(followUp)}
	s, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tree := writeTree(t, `"bug"`)
	plan, err := s.Plan(ctx, tree, v2, s.Patches)
	if err != nil {
		t.Fatal(err)
	}
	want := []Decision{{ID: "0001", Status: Apply}, {ID: "0002", Status: Apply}}
	if diff := cmp.Diff(want, plan, cmpopts.IgnoreFields(Decision{}, "Patch")); diff != "" {
		t.Fatalf("Plan mismatch (-want +got):\n%s", diff)
	}
	if got, _ := os.ReadFile(filepath.Join(tree, "pkg/a/a.go")); !strings.Contains(string(got), `"bug"`) {
		t.Errorf("Plan modified the tree: %q", got)
	}
	if err := s.ApplyPlan(ctx, tree, v2, plan); err != nil {
		t.Fatalf("ApplyPlan: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(tree, "pkg/a/a.go")); !strings.Contains(string(got), `"fixed twice"`) {
		t.Errorf("after ApplyPlan: %q", got)
	}
}
