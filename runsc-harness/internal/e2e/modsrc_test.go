package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleSource copies a module that this repository already depends on
// (so the module cache has it) and checks that an unknown version fails
// with the module named.
func TestModuleSource(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "src")
	if err := ModuleSource(context.Background(), "golang.org/x/mod", "v0.42.0", dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err != nil {
		t.Errorf("no go.mod in the copy: %v", err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm()&0o200 == 0 {
		t.Errorf("copy is not writable: %v", err)
	}
	err := ModuleSource(context.Background(), "golang.org/x/mod", "v0.0.0-nope", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "golang.org/x/mod@v0.0.0-nope") {
		t.Errorf("unknown version: %v, want an error naming the module and version", err)
	}
}
