package oci

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFIFOs checks that Write makes each of Options.FIFOs in the rootfs
// as a FIFO any user may open, with its parent directories, and makes it
// afresh when the bundle is written again.
func TestWriteFIFOs(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "guest")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	o := Options{Binary: bin, FIFOs: []string{"/service/supervise/ok"}}
	p := filepath.Join(dir, "rootfs", "service", "supervise", "ok")
	for i := 0; i < 2; i++ {
		if _, err := Write(dir, o); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if fi.Mode().Type() != os.ModeNamedPipe || fi.Mode().Perm() != 0o666 {
			t.Errorf("write %d: %s has mode %v, want a FIFO with permissions 0666", i, p, fi.Mode())
		}
	}
}
