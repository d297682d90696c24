// Package ctest builds the C guest programs of syscalltests for their Go
// tests.
package ctest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Build compiles the *.c files of the test's directory into a static binary
// called name in a temporary directory, with -O2 -pthread -Wall and extra,
// and returns its path. The test is skipped when there is no C compiler.
func Build(t testing.TB, name string, extra ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH")
	}
	srcs, err := filepath.Glob("*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no C sources: %v", err)
	}
	bin := filepath.Join(t.TempDir(), name)
	args := append(append([]string{"-static", "-O2", "-pthread", "-Wall"}, extra...), "-o", bin)
	args = append(args, srcs...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}
