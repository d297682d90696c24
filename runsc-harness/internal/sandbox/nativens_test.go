package sandbox

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNativeNamespaces checks that NativeOptions.Namespaces starts the
// guest as PID 1 of a new PID namespace in a mount namespace of its own,
// and leaves it out otherwise.
func TestNativeNamespaces(t *testing.T) {
	if err := CheckRoot(); err != nil {
		t.Skip(err)
	}
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Skip(err)
	}
	readlink, err := exec.LookPath("readlink")
	if err != nil {
		t.Skip(err)
	}
	for _, ns := range []bool{true, false} {
		res, err := Native(context.Background(), NativeOptions{
			// The guest's PATH is "/": name readlink by its path.
			Binary: "/bin/sh", Args: []string{"-c", `echo "$$ $(` + readlink + ` /proc/self/ns/mnt)"`},
			LogDir: t.TempDir(), Timeout: 10 * time.Second, Namespaces: ns,
		})
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Failure(); f != "" || res.ExitCode != 0 {
			t.Fatalf("Namespaces=%v: failure %q, exit %d, stderr %q", ns, f, res.ExitCode, res.Stderr)
		}
		pid, mnt, _ := strings.Cut(strings.TrimSpace(string(res.Stdout)), " ")
		if !strings.HasPrefix(mnt, "mnt:[") {
			t.Fatalf("Namespaces=%v: output %q", ns, res.Stdout)
		}
		if (pid == "1") != ns {
			t.Errorf("Namespaces=%v: guest pid %s", ns, pid)
		}
		if (mnt != self) != ns {
			t.Errorf("Namespaces=%v: guest mount namespace %s, the test's %s", ns, mnt, self)
		}
	}
}
