package upstream

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// inodeMutex is a declare_mutex instance without nested lock names, as the
// Go-module snapshots carry them.
const inodeMutex = `package pipe

type inodeMutex struct {
	mu sync.Mutex
}

var inodeprefixIndex *locking.MutexClass

var inodelockNames []string

type inodelockNameIndex int

// LOCK_NAME_INDEX_CONSTANTS

func (m *inodeMutex) Lock() {
	locking.AddGLock(inodeprefixIndex, -1)
	m.mu.Lock()
}

func inodeinitLockNames() {}

func init() {
	inodeinitLockNames()
	inodeprefixIndex = locking.NewMutexClass(reflect.TypeFor[inodeMutex](), inodelockNames)
}
`

// upstreamPatch changes a Go file, its BUILD file (a new declare_mutex and a
// srcs entry) and a syscall test.
const upstreamPatch = `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
Subject: [PATCH 1/1] pipe: lock opens

Body of the message.

Fixes #
---
diff --git a/pkg/pipe/BUILD b/pkg/pipe/BUILD
index 1111111..2222222 100644
--- a/pkg/pipe/BUILD
+++ b/pkg/pipe/BUILD
@@ -1,4 +1,12 @@
 load("//pkg/sync/locking:locking.bzl", "declare_mutex")
 
+declare_mutex(
+    name = "open_mutex",
+    out = "open_mutex.go",
+    package = "pipe",
+    prefix = "open",
+)
+
 go_library(
     srcs = [
+        "open_mutex.go",
diff --git a/pkg/pipe/pipe.go b/pkg/pipe/pipe.go
index 3333333..4444444 100644
--- a/pkg/pipe/pipe.go
+++ b/pkg/pipe/pipe.go
@@ -1,4 +1,5 @@
 package pipe
 
 type Pipe struct {
+	openMu openMutex
 }
diff --git a/test/syscalls/linux/fifo.cc b/test/syscalls/linux/fifo.cc
index 5555555..6666666 100644
--- a/test/syscalls/linux/fifo.cc
+++ b/test/syscalls/linux/fifo.cc
@@ -1,1 +1,2 @@
 // fifo
+// more
`

// TestDerive checks that a derived patch keeps the Go change, leaves out
// the BUILD and test/ hunks, ports the declare_mutex output from its
// sibling, carries the upstream message and applies to the module.
func TestDerive(t *testing.T) {
	base := t.TempDir()
	write := func(dir, name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base, "pkg/pipe/pipe.go", "package pipe\n\ntype Pipe struct {\n}\n")
	write(base, "pkg/pipe/inode_mutex.go", inodeMutex)
	dir := t.TempDir()
	write(dir, "0001-pipe-lock-opens.patch", upstreamPatch)
	m := &Manifest{Master: strings.Repeat("a", 40), dir: dir, Patches: []*Patch{
		{File: "0001-pipe-lock-opens.patch", Derive: []Derivation{{ID: "0004"}}, DerivedFrom: []string{"0004"}},
	}}
	ds, err := Derive(context.Background(), m, func(string) (string, error) { return base, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("got %d derived patches, want 1", len(ds))
	}
	d := ds[0]
	if diff := cmp.Diff([]string{"pkg/pipe/BUILD", "test/syscalls/linux/fifo.cc"}, d.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pkg/pipe/open_mutex.go"}, d.Generated); diff != "" {
		t.Errorf("generated (-want +got):\n%s", diff)
	}
	got := string(d.Contents)
	for _, want := range []string{
		"Subject: [PATCH] pipe: lock opens\n", "Body of the message.", "Fixes #",
		"diff --git a/pkg/pipe/pipe.go b/pkg/pipe/pipe.go", "+\topenMu openMutex",
		"diff --git a/pkg/pipe/open_mutex.go b/pkg/pipe/open_mutex.go\nnew file mode 100644",
		"+type openMutex struct {", "+\topeninitLockNames()", "reflect.TypeFor[openMutex]()",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("derived patch lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"inodeMutex", "declare_mutex", "fifo.cc b/", "[PATCH 1/1]"} {
		if strings.Contains(got, bad) {
			t.Errorf("derived patch has %q", bad)
		}
	}
	if !m.Patches[0].SnapshotDerived() {
		t.Error("SnapshotDerived() = false for a patch that derives all it names")
	}
	tree := t.TempDir()
	write(tree, "pkg/pipe/pipe.go", "package pipe\n\ntype Pipe struct {\n}\n")
	if _, err := runGit(context.Background(), tree, d.Contents, "apply", "-"); err != nil {
		t.Fatalf("derived patch does not apply to the module: %v", err)
	}
}

// testOnlyImport adds a Go test that imports a package the Go module lacks.
const testOnlyImport = `diff --git a/pkg/pipe/x_test.go b/pkg/pipe/x_test.go
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/pkg/pipe/x_test.go
@@ -0,0 +1,3 @@
+package pipe
+
+import _ "gvisor.dev/gvisor/pkg/sentry/contexttest"
`

// TestDeriveRefuses checks the errors: a BUILD edit derive cannot port, a
// Go file importing a package the module lacks, and a Go hunk that does
// not apply to the module.
func TestDeriveRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, patch, pipeGo, want string
	}{
		{"unknown generator", strings.Replace(upstreamPatch, "+declare_mutex(", "+genrule(", 1), "package pipe\n\ntype Pipe struct {\n}\n", `adds genrule "open_mutex", which derive cannot port`},
		{"other template", strings.Replace(upstreamPatch, "+declare_mutex(", "+go_template_instance(", 1), "package pipe\n\ntype Pipe struct {\n}\n", `go_template_instance "open_mutex" of template "": only //pkg/refs:refs_template can be ported`},
		{"test-only import", strings.Replace(upstreamPatch, "diff --git a/test/", testOnlyImport+"diff --git a/test/", 1), "package pipe\n\ntype Pipe struct {\n}\n",
			"pkg/pipe/x_test.go imports gvisor.dev/gvisor/pkg/sentry/contexttest, which the Go module does not carry"},
		{"context differs", upstreamPatch, "package pipe\n\ntype Pipe struct {\n\tx int\n}\n", "does not apply to the snapshot for 0004"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, dir := t.TempDir(), t.TempDir()
			os.MkdirAll(filepath.Join(base, "pkg/pipe"), 0o755)
			os.WriteFile(filepath.Join(base, "pkg/pipe/pipe.go"), []byte(tc.pipeGo), 0o644)
			os.WriteFile(filepath.Join(base, "pkg/pipe/inode_mutex.go"), []byte(inodeMutex), 0o644)
			os.WriteFile(filepath.Join(dir, "p.patch"), []byte(tc.patch), 0o644)
			m := &Manifest{Master: strings.Repeat("a", 40), dir: dir, Patches: []*Patch{{File: "p.patch", Derive: []Derivation{{ID: "0004"}}}}}
			_, err := Derive(context.Background(), m, func(string) (string, error) { return base, nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Derive: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestDeriveBases checks that a derivation with its own base is made
// against that version's module, in a tree of its own, while the others
// use the manifest's snapshot base.
func TestDeriveBases(t *testing.T) {
	bases := map[string]string{"new": t.TempDir(), "old": t.TempDir()}
	for v, dir := range bases {
		os.MkdirAll(filepath.Join(dir, "pkg/pipe"), 0o755)
		// The old version has one more comment line above the package
		// clause: line numbers differ.
		pre := map[string]string{"new": "// a\n// b\n", "old": "// a\n// b\n// c\n"}[v]
		os.WriteFile(filepath.Join(dir, "pkg/pipe/pipe.go"), []byte(pre+"package pipe\n\ntype Pipe struct {\n}\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "pkg/pipe/inode_mutex.go"), []byte(inodeMutex), 0o644)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.patch"), []byte(strings.Replace(upstreamPatch, "@@ -1,4 +1,5 @@\n package pipe", "@@ -3,4 +3,5 @@\n package pipe", 1)), 0o644)
	m := &Manifest{Master: strings.Repeat("a", 40), SnapshotBase: "new", dir: dir, Patches: []*Patch{
		{File: "p.patch", Derive: []Derivation{{ID: "0104", Context: 2}, {ID: "0106", Base: "old", Context: 2}}},
	}}
	var asked []string
	ds, err := Derive(context.Background(), m, func(v string) (string, error) {
		asked = append(asked, v)
		return bases[v], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new", "old"}, asked); diff != "" {
		t.Errorf("module versions asked for (-want +got):\n%s", diff)
	}
	for i, want := range []string{"@@ -4,3 +4,4 @@", "@@ -5,3 +5,4 @@"} {
		if !strings.Contains(string(ds[i].Contents), want) {
			t.Errorf("derived %s lacks %q:\n%s", ds[i].ID, want, ds[i].Contents)
		}
	}
}

// TestDeriveExcludes checks that a derivation's Exclude leaves those files
// out, as dropped, and keeps the rest.
func TestDeriveExcludes(t *testing.T) {
	base, dir := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(base, "pkg/pipe"), 0o755)
	os.WriteFile(filepath.Join(base, "pkg/pipe/pipe.go"), []byte("package pipe\n\ntype Pipe struct {\n}\n"), 0o644)
	os.WriteFile(filepath.Join(base, "pkg/pipe/inode_mutex.go"), []byte(inodeMutex), 0o644)
	os.WriteFile(filepath.Join(dir, "p.patch"), []byte(upstreamPatch), 0o644)
	m := &Manifest{Master: strings.Repeat("a", 40), dir: dir, Patches: []*Patch{
		{File: "p.patch", Derive: []Derivation{{ID: "0140", Exclude: []string{"pkg/pipe/pipe.go"}}}},
	}}
	ds, err := Derive(context.Background(), m, func(string) (string, error) { return base, nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"pkg/pipe/BUILD", "pkg/pipe/pipe.go", "test/syscalls/linux/fifo.cc"}, ds[0].Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	got := string(ds[0].Contents)
	if strings.Contains(got, "diff --git a/pkg/pipe/pipe.go") || !strings.Contains(got, "diff --git a/pkg/pipe/open_mutex.go") {
		t.Errorf("derived patch does not leave out just pipe.go:\n%s", got)
	}
}
