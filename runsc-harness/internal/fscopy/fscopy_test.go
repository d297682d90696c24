package fscopy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTree(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a/b/x"), []byte("hello"), 0o555); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := Tree(src, dst); err != nil {
		t.Fatalf("Tree: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "a/b/x"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("copied file = %q, %v; want hello", b, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "a/b/x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o755); got != want {
		t.Errorf("mode = %v, want %v (kept, plus owner write)", got, want)
	}

	if err := os.Symlink("a", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := Tree(src, filepath.Join(t.TempDir(), "out2")); err == nil || !strings.Contains(err.Error(), "link: not a regular file") {
		t.Errorf("Tree with a symlink: error %v, want not a regular file", err)
	}
}
