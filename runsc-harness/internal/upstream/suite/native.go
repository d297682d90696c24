package suite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// runNative runs argv on the host as root, in its own process group and
// in new UTS, IPC and mount namespaces (private mounts), so that a test
// that sets the hostname, makes SysV IPC objects or mounts leaves the
// host as it was. RLIMIT_NOFILE is raised to nofile (when not 0; to the
// hard limit if the host does not allow more) by the shell that then
// execs the test. The group is killed at the deadline or
// when ctx ends; output goes to dir.
func runNative(ctx context.Context, argv, env []string, dir string, nofile uint64, timeout time.Duration) (*sandbox.Result, error) {
	if nofile > 0 {
		argv = append([]string{"/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d 2>/dev/null || ulimit -n "$(ulimit -H -n)"; exec "$@"`, nofile), "sh"}, argv...)
	}
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:      true,
		Cloneflags:   syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Unshareflags: syscall.CLONE_NEWNS,
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	res := &sandbox.Result{LogDir: dir, Command: argv}
	select {
	case <-done:
	case <-deadline:
		res.TimedOut = true
	case <-ctx.Done():
		res.Canceled = true
	}
	if res.TimedOut || res.Canceled {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// A test's children in the group are killed too, even if the test
	// itself exited.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	res.Duration = time.Since(start)
	res.ExitCode = cmd.ProcessState.ExitCode()
	if res.TimedOut || res.Canceled {
		res.ExitCode = -1
	}
	res.Stdout, _ = os.ReadFile(stdout.Name())
	res.Stderr, _ = os.ReadFile(stderr.Name())
	return res, nil
}
