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

// privateTmp is the shell that runNative puts before every test: in the
// test's own mount namespace it mounts a fresh tmpfs on /tmp, so that what
// a test makes in /tmp itself goes when the namespace does. gVisor's
// test/util binds every AF_UNIX socket path of UniqueUnixAddr in "/tmp"
// whatever TEST_TMPDIR says, and nothing unlinks them: a native run of the
// socket tests left some 200 socket files in the host's /tmp. The run's
// directory ($1), which may itself be under /tmp, is opened before the
// mount and bind-mounted back at its path from that descriptor. Then
// RLIMIT_NOFILE is raised to $2 (when not 0; to the hard limit if the host
// does not allow more) and the test is exec'd.
const privateTmp = `d=$1 n=$2; shift 2
exec 3<"$d" || exit 125
mount -t tmpfs -o mode=1777,nosuid,nodev restartsys-tmp /tmp || exit 125
case $d in /tmp/*) mkdir -p "$d" && mount --no-canonicalize --bind /proc/self/fd/3 "$d" || exit 125;; esac
exec 3<&-
cd "$d" || exit 125
[ "$n" = 0 ] || ulimit -n "$n" 2>/dev/null || ulimit -n "$(ulimit -H -n)"
exec "$@"`

// runNative runs argv on the host as root, in its own process group and
// in new UTS, IPC and mount namespaces (private mounts) with a /tmp of
// its own (privateTmp), so that a test that sets the hostname, makes SysV
// IPC objects, mounts or leaves files in /tmp leaves the host as it was.
// RLIMIT_NOFILE is raised to nofile (when not 0). The group is killed at
// the deadline or when ctx ends; output goes to dir.
func runNative(ctx context.Context, argv, env []string, dir string, nofile uint64, timeout time.Duration) (*sandbox.Result, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	argv = append([]string{"/bin/sh", "-c", privateTmp, "sh", dir, fmt.Sprint(nofile)}, argv...)
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
