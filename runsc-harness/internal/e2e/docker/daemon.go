// Package docker runs the field's own workload end to end: sequential
// `docker exec` (and `docker run`) in a Docker-in-Docker container under
// runsc, started by a host dockerd that has the stock and patched runsc as
// runtimes; and containerd with gVisor's shim, driven by ctr.
//
// Every daemon of the harness runs in new PID and mount namespaces (an
// unshare(1) whose first process is docker-init), with its state, sockets
// and logs in a private directory of a locked harness state base: nothing
// touches /var/run/docker.sock, /var/lib/docker or /run/containerd, and
// when the harness dies, however it dies, the kernel kills the whole
// namespace (Pdeathsig on unshare, --kill-child on its child) and the next
// harness run sweeps the state base.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host programs, from Debian's docker.io and containerd packages
// (runsc-harness/host/packages.sh docker installs them).
const (
	Dockerd       = "/usr/sbin/dockerd"
	DockerCLI     = "/usr/bin/docker"
	ContainerdBin = "/usr/bin/containerd"
	Ctr           = "/usr/bin/ctr"
	DockerInit    = "/usr/bin/docker-init"
	RuncShim      = "/usr/bin/containerd-shim-runc-v2"
)

// CheckHost says which host program is missing, and how to get it.
func CheckHost() error {
	var missing []string
	for _, p := range []string{Dockerd, DockerCLI, ContainerdBin, Ctr, DockerInit, RuncShim, "/usr/bin/unshare"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run runsc-harness/host/packages.sh docker (as root)", strings.Join(missing, ", "))
	}
	return nil
}

// Daemon is a dockerd or containerd started by StartDaemon.
type Daemon struct {
	// Name is the program's base name; Socket its API socket; Log its
	// output (stdout and stderr).
	Name, Socket, Log string
	cmd               *exec.Cmd
	done              chan struct{}
}

// nsScript runs as the first process of the new namespaces: a private
// tmpfs on /run (shim sockets, runsc state and whatever else a daemon puts
// there stay in the namespace), then docker-init (tini) as PID 1, which
// reaps orphans and passes SIGTERM on to the daemon.
const nsScript = `mount -t tmpfs -o mode=755 tmpfs /run && exec ` + DockerInit + ` -- "$@"`

// StartDaemon starts argv in new PID and mount namespaces (mount
// propagation private, a fresh /proc), with env added to the environment
// and its output in logPath, and waits until ready succeeds (or the
// deadline). If the harness dies, unshare gets SIGKILL (Pdeathsig) and
// passes it on to the namespace's init, which takes every process of the
// namespace with it.
func StartDaemon(ctx context.Context, socket, logPath string, env, argv []string, ready func(context.Context) error) (*Daemon, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := append([]string{"--pid", "--mount", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
		"sh", "-c", nsScript, "sh"}, argv...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	d := &Daemon{Name: filepath.Base(argv[0]), Socket: socket, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := ready(rctx)
		cancel()
		if err == nil {
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("%s exited during startup: %s", d.Name, tailFile(logPath, 1500))
		default:
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("%s not ready: %v; log: %s", d.Name, err, tailFile(logPath, 1500))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Stop asks the daemon to exit (SIGTERM through docker-init), and after
// 30 s kills its namespace. When Stop returns, no process of the
// namespace is left.
func (d *Daemon) Stop() {
	select {
	case <-d.done:
		return
	default:
	}
	if init := firstChild(d.cmd.Process.Pid); init > 0 {
		_ = syscall.Kill(init, syscall.SIGTERM)
	}
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
	}
	// unshare's death kills the namespace's init (--kill-child), and
	// with it every process of the namespace.
	_ = syscall.Kill(d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
	waitNamespaceGone(d.cmd.Process.Pid)
}

// MainPID returns the daemon's process ID as the host sees it (its
// pidfile holds the ID in its own PID namespace), or 0 if it is gone: the
// child of the namespace's init, docker-init.
func (d *Daemon) MainPID() int {
	if init := firstChild(d.cmd.Process.Pid); init > 0 {
		return firstChild(init)
	}
	return 0
}

// firstChild returns a child of pid (unshare's one child: the
// namespace's init), or 0.
func firstChild(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// waitNamespaceGone waits (up to 10 s) until no process is a descendant
// of the namespace unshare pid made: the kernel's SIGKILL of a PID
// namespace takes a moment.
func waitNamespaceGone(pid int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && firstChild(pid) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs a host command with a deadline and returns its combined output.
func run(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, tail(out.String(), 1500))
	}
	return out.String(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return tail(string(b), n)
}

// errNotReady is what a readiness probe returns before the socket exists.
var errNotReady = errors.New("socket not there yet")
