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
