// Package sandbox runs one guest program, either natively or under runsc
// from an OCI bundle, with a deadline, and always cleans up after itself:
// when Run returns, the private runsc state root holds no container and no
// runsc process started for it is left, whether the guest exited, hung past
// its deadline or the context was cancelled.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNotRoot is returned by CheckRoot when the harness is not root.
var ErrNotRoot = errors.New("must run as root (runsc needs it)")

// CheckRoot fails with ErrNotRoot unless the effective user is root.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}

// Platforms, Networks and DirectFS list the values a Variant accepts.
var (
	Platforms = []string{"systrap", "ptrace"}
	Networks  = []string{"none", "sandbox", "host"}
	DirectFS  = []string{"default", "on", "off"}
)

// Variant is one runsc configuration a guest runs under.
type Variant struct {
	// Platform is "systrap" or "ptrace".
	Platform string `json:"platform"`
	// Network is "none", "sandbox" or "host".
	Network string `json:"network"`
	// DirectFS is "default" (runsc's own default), "on" or "off".
	DirectFS string `json:"directfs"`
}

// String names the variant, e.g. "systrap/none/directfs=default".
func (v Variant) String() string {
	return fmt.Sprintf("%s/%s/directfs=%s", v.Platform, v.Network, v.DirectFS)
}

// Validate reports an unknown platform, network or directfs value.
func (v Variant) Validate() error {
	check := func(what, got string, ok []string) error {
		for _, o := range ok {
			if got == o {
				return nil
			}
		}
		return fmt.Errorf("unknown %s %q (want one of %s)", what, got, strings.Join(ok, ", "))
	}
	if err := check("platform", v.Platform, Platforms); err != nil {
		return err
	}
	if err := check("network", v.Network, Networks); err != nil {
		return err
	}
	return check("directfs", v.DirectFS, DirectFS)
}

// Flags returns the runsc global flags that select v.
func (v Variant) Flags() []string {
	f := []string{"--platform=" + v.Platform, "--network=" + v.Network}
	switch v.DirectFS {
	case "on":
		f = append(f, "--directfs=true")
	case "off":
		f = append(f, "--directfs=false")
	}
	return f
}

// Variants returns the cross product of platforms, networks and directfs
// settings, in that order of nesting, or the first invalid value.
func Variants(platforms, networks, directfs []string) ([]Variant, error) {
	var out []Variant
	for _, p := range platforms {
		for _, n := range networks {
			for _, d := range directfs {
				v := Variant{Platform: p, Network: n, DirectFS: d}
				if err := v.Validate(); err != nil {
					return nil, err
				}
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// Result is what one run produced.
type Result struct {
	// Stdout and Stderr are the guest's output (for runsc, mixed with
	// whatever runsc itself printed on stderr).
	Stdout []byte
	Stderr []byte
	// ExitCode is the process's exit status, or -1 if it did not exit by
	// itself (killed at the deadline or on cancellation).
	ExitCode int
	// TimedOut is set when the run was killed at its deadline.
	TimedOut bool
	// Canceled is set when the context was cancelled during the run.
	Canceled bool
	// Duration is the wall time of the run.
	Duration time.Duration
	// LogDir holds stdout, stderr and (for runsc) runsc's debug logs.
	LogDir string
	// Command is the command line that ran.
	Command []string
}

// Failure describes why the run failed, or is "" if the process exited by
// itself (whatever its status: a guest reports problems in its JSON).
func (r *Result) Failure() string {
	switch {
	case r.Canceled:
		return fmt.Sprintf("cancelled after %v; logs in %s", r.Duration.Round(time.Millisecond), r.LogDir)
	case r.TimedOut:
		return fmt.Sprintf("killed at its deadline after %v; logs in %s; last output: %s",
			r.Duration.Round(time.Millisecond), r.LogDir, r.LastOutput(400))
	}
	return ""
}

// LastOutput returns the last n bytes of stdout and stderr, for a message.
func (r *Result) LastOutput(n int) string {
	tail := func(b []byte) string {
		b = bytes.TrimSpace(b)
		if len(b) > n {
			b = append([]byte("..."), b[len(b)-n:]...)
		}
		return fmt.Sprintf("%q", b)
	}
	return "stdout " + tail(r.Stdout) + ", stderr " + tail(r.Stderr)
}

// NativeOptions describe a native run.
type NativeOptions struct {
	// Binary is the guest program; Args follow argv[0].
	Binary string
	Args   []string
	// Env is added to the guest's environment ("K=V"), after PATH=/.
	Env []string
	// LogDir receives stdout and stderr; created if missing.
	LogDir string
	// Timeout is the deadline of the run (0: none).
	Timeout time.Duration
	// Namespaces, when set, starts the guest as PID 1 of a new PID
	// namespace, in a new mount namespace whose mounts are private (not
	// propagated to or from the host), as a container's first process is.
	Namespaces bool
}

// Native runs the guest directly on the host, in its own process group,
// killing the group at the deadline or on cancellation.
func Native(ctx context.Context, o NativeOptions) (*Result, error) {
	cmd := exec.Command(o.Binary, o.Args...)
	cmd.Env = append([]string{"PATH=/"}, o.Env...)
	cmd.Dir = "/"
	if o.Namespaces {
		// Unshareflags' CLONE_NEWNS makes the child remount / rprivate
		// before it execs the guest.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:   syscall.CLONE_NEWPID,
			Unshareflags: syscall.CLONE_NEWNS,
		}
	}
	return supervise(ctx, cmd, o.LogDir, o.Timeout, func(context.Context) {
		// The group is killed by supervise itself; nothing else to do.
	})
}

// RunOptions describe a run under runsc.
type RunOptions struct {
	// Runsc is the runsc binary.
	Runsc string
	// StateRoot is the private --root of this harness. It must exist.
	StateRoot string
	// Variant selects platform, network and directfs.
	Variant Variant
	// Bundle is the OCI bundle directory.
	Bundle string
	// ID is the container ID; a fresh one is chosen when empty.
	ID string
	// LogDir receives stdout, stderr and runsc's logs (--debug-log=LogDir/).
	LogDir string
	// Debug adds --debug (verbose logs) to --debug-log.
	Debug bool
	// Flags are further runsc global flags ("--host-fifo=open", say).
	Flags []string
	// Timeout is the deadline of the run (0: none).
	Timeout time.Duration
}

var idSeq atomic.Int64

// Run runs the bundle under runsc and removes the container afterwards.
// An error means the run could not be set up or cleaned up; a guest that
// hung or a cancelled run is reported through Result.Failure.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	if err := o.Variant.Validate(); err != nil {
		return nil, err
	}
	// Leftover detection matches the root as runsc passes it on.
	root, err := filepath.Abs(o.StateRoot)
	if err != nil {
		return nil, err
	}
	o.StateRoot = root
	if o.ID == "" {
		o.ID = fmt.Sprintf("rh-%d-%d", os.Getpid(), idSeq.Add(1))
	}
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return nil, err
	}
	logDir, err := filepath.Abs(o.LogDir)
	if err != nil {
		return nil, err
	}
	args := []string{"--root", o.StateRoot}
	args = append(args, o.Variant.Flags()...)
	args = append(args, "--debug-log="+logDir+"/")
	if o.Debug {
		args = append(args, "--debug")
	}
	args = append(args, o.Flags...)
	args = append(args, "run", "--bundle", o.Bundle, o.ID)
	cmd := exec.Command(o.Runsc, args...)
	rt := Runtime{Runsc: o.Runsc, StateRoot: o.StateRoot}
	res, err := supervise(ctx, cmd, logDir, o.Timeout, func(cctx context.Context) {
		// Ask runsc to stop the container first: this kills the sandbox
		// and gofer, which live in sessions of their own.
		_ = rt.command(cctx, "kill", o.ID, "KILL")
		waitGone(cctx, cmd)
		_ = rt.command(cctx, "delete", "-force", o.ID)
	})
	// Whatever happened, leave no container and no process behind.
	if cerr := rt.Cleanup(o.ID); cerr != nil && err == nil {
		err = cerr
	}
	return res, err
}

// waitGone gives the supervised process a moment to exit by itself after
// runsc kill.
func waitGone(ctx context.Context, cmd *exec.Cmd) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		if p, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)); bytes.Contains(p, []byte(") Z ")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cleanupTimeout bounds the teardown commands after a hang or Ctrl-C; they
// run on a context of their own since the caller's may be cancelled.
const cleanupTimeout = 20 * time.Second

// supervise starts cmd in its own process group with stdout and stderr in
// files of logDir, and waits for it, the deadline or ctx. On deadline or
// cancellation it calls stop (with a fresh context), then kills the group.
func supervise(ctx context.Context, cmd *exec.Cmd, logDir string, timeout time.Duration, stop func(context.Context)) (*Result, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	outPath, errPath := filepath.Join(logDir, "stdout"), filepath.Join(logDir, "stderr")
	stdout, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.Create(errPath)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	res := &Result{ExitCode: -1, LogDir: logDir, Command: append([]string{cmd.Path}, cmd.Args[1:]...)}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	var waitErr error
	select {
	case waitErr = <-done:
	case <-timer:
		res.TimedOut = true
	case <-ctx.Done():
		res.Canceled = true
	}
	if res.TimedOut || res.Canceled {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		stop(cctx)
		cancel()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		waitErr = <-done
	}
	res.Duration = time.Since(start)
	if !res.TimedOut && !res.Canceled {
		res.ExitCode = cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if waitErr != nil && !errors.As(waitErr, &ee) {
			return nil, waitErr
		}
	}
	// Anything left in the group (a guest's own children) goes too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if res.Stdout, err = os.ReadFile(outPath); err != nil {
		return nil, err
	}
	if res.Stderr, err = os.ReadFile(errPath); err != nil {
		return nil, err
	}
	return res, nil
}
