package suite

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunNativeKillsAtDeadline: a test that hangs is killed at its
// deadline with every process of its group, and reported as timed out.
func TestRunNativeKillsAtDeadline(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("runNative makes UTS, IPC and mount namespaces: run as root")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	start := time.Now()
	res, err := runNative(context.Background(), []string{"/bin/sh", "-c", "sleep 60 & echo $! > " + pidFile + "; wait"}, nil, dir, 0, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.ExitCode != -1 || time.Since(start) > 10*time.Second {
		t.Errorf("result %+v after %v, want timed out", res, time.Since(start))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var alive bool
	for i := 0; i < 50; i++ {
		if alive = running(pid); !alive {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if alive {
		t.Errorf("the test's child %d outlived the deadline", pid)
	}
	res, err = runNative(context.Background(), []string{"/bin/sh", "-c", "ulimit -n; hostname suite-test; exit 3"}, nil, dir, 512, time.Minute)
	if err != nil || res.ExitCode != 3 || strings.TrimSpace(string(res.Stdout)) != "512" {
		t.Errorf("runNative: %+v, %v; want exit 3 and RLIMIT_NOFILE 512", res, err)
	}
	if h, _ := os.Hostname(); h == "suite-test" {
		t.Error("the test changed the host's hostname")
	}
}

// running says whether pid is a process that is not a zombie (a killed
// orphan stays one until its reaper waits for it).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// TestRunNativePrivateTmp: what a test makes in /tmp (gVisor's
// UniqueUnixAddr binds sockets there whatever TEST_TMPDIR says) stays in
// the run's own /tmp, while its run directory, under the host's /tmp here,
// is still where the test writes its report.
func TestRunNativePrivateTmp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("runNative makes UTS, IPC and mount namespaces: run as root")
	}
	dir, err := os.MkdirTemp("/tmp", "suite-native-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	leak := filepath.Join("/tmp", "restartsys-leak-"+filepath.Base(dir))
	res, err := runNative(context.Background(), []string{"/bin/sh", "-c", "touch " + leak + " && echo ok > report && pwd"}, nil, dir, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != dir {
		t.Fatalf("runNative: exit %d, stdout %q, stderr %q; want 0 and %s", res.ExitCode, res.Stdout, res.Stderr, dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report")); err != nil || string(b) != "ok\n" {
		t.Errorf("the run's directory: report %q, %v", b, err)
	}
	if _, err := os.Stat(leak); err == nil {
		os.Remove(leak)
		t.Errorf("%s made by the test is on the host", leak)
	}
}
