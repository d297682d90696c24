package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/restartsys/restartsys/syscalltests/internal/nsoracle"
)

// build compiles the guest as the harness does (static, no cgo).
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nsgo")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestNativeOracle runs the guest as the harness's native side does (PID 1
// of new PID and mount namespaces) and checks every cell against Linux:
// locked trials must match the per-thread semantics in every run; unlocked
// ones are only counted.
func TestNativeOracle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("new PID and mount namespaces need root")
	}
	bin := build(t)
	runs, n := "50", int64(50)
	if testing.Short() {
		runs, n = "10", 10
	}
	rep := nsoracle.RunNative(t, bin, "-runs", runs)
	nsoracle.Check(t, rep, "nsgo", "go", []string{"locked", "unlocked"}, n)
	for _, c := range rep.Cases {
		if c.Disposition == "unlocked" {
			t.Logf("%s [unlocked]: %v", c.Shape, c.Counters)
		}
	}
}
