package nsc

import (
	"testing"

	"github.com/restartsys/restartsys/syscalltests/internal/ctest"
	"github.com/restartsys/restartsys/syscalltests/internal/nsoracle"
)

// build compiles the guest into a temporary directory.
func build(t *testing.T) string {
	return ctest.Build(t, "nsc", "-Werror")
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
