package nsc

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/syscalltests/internal/nsoracle"
)

// build compiles nsc.c into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH")
	}
	srcs, err := filepath.Glob("*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no C sources: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nsc")
	args := append([]string{"-static", "-O2", "-pthread", "-Wall", "-Werror", "-o", bin}, srcs...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// TestNativeOracle runs the guest as the harness's native side does (PID 1
// of new PID and mount namespaces) and checks every cell against Linux.
func TestNativeOracle(t *testing.T) {
	bin := build(t)
	runs := "200"
	if testing.Short() {
		runs = "20"
	}
	rep := nsoracle.RunNative(t, bin, "-runs", runs)
	nsoracle.Check(t, rep, "nsc", "c", []string{"pthread"}, map[string]int64{"200": 200, "20": 20}[runs])
}
