package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// Status is the outcome of one test case in one place.
type Status string

// The outcomes of a case.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
	Hang Status = "hang"
	// Error means the case could not be run (the sandbox failed to start).
	Error Status = "error"
)

// Outcome is a case's result in one place.
type Outcome struct {
	Status   Status        `json:"status"`
	Duration time.Duration `json:"duration_ns"`
	// Output is the tail of the test binary's output.
	Output string `json:"output,omitempty"`
}

// Place runs a test binary with a --gtest_filter: natively or in a runsc
// sandbox.
type Place struct {
	// Name is "native", "stock" or "patched".
	Name string
	// Runsc is the runsc binary; natively when empty.
	Runsc string
	// Platform is the runsc platform (systrap).
	Platform string
}

// hostFIFOFiles are the test files whose cases need FIFOs made on the host:
// gVisor runs them with syscall_test(add_host_fifo = True), which makes a
// tree of FIFOs (test/uds CreateFifoTree), names it in TEST_FIFO_TREE and
// runs runsc with --host-fifo=open.
var hostFIFOFiles = map[string]bool{"test/syscalls/linux/pipe_external.cc": true}

// fileCaps are the capabilities, on top of a container engine's default set,
// that the cases of a test file need in the sandbox. gVisor's runner gives
// every case all capabilities (testutil.NewSpecWithArgs); natively the cases
// run as root.
var fileCaps = map[string][]string{"test/syscalls/linux/mount.cc": {"CAP_SYS_ADMIN"}}

// tmpfsFiles are the test files whose cases need a TEST_TMPDIR they can make
// directories in under runsc: the bind-mounted one is read-only there, since
// the sandbox's root (the host's) is (gVisor's runner makes its root
// writable, or uses use_tmpfs). Their TEST_TMPDIR in the sandbox is the
// spec's own tmpfs /tmp, as with gVisor's use_tmpfs.
var tmpfsFiles = map[string]bool{"test/syscalls/linux/mount.cc": true}

// hostFIFOTree makes, in dir, the FIFOs of CreateFifoTree that the cases here
// use: "idle", which nothing on the host opens (its "in" and "out" have host
// peers that no case here needs). It returns the tree's directory.
func hostFIFOTree(dir string) (string, error) {
	tree := filepath.Join(dir, "pipes")
	if err := os.Mkdir(tree, 0o777); err != nil {
		return "", err
	}
	if err := syscall.Mkfifo(filepath.Join(tree, "idle"), 0o666); err != nil {
		return "", err
	}
	return tree, nil
}

// RunCase runs case c of bin in p, killed after timeout, and returns its
// outcome. gVisor's runner does the same: one sandbox per case, network
// none, TEST_ON_GVISOR set to the platform inside the sandbox, and a tree of
// host FIFOs with --host-fifo=open for the files that ask for one.
func (p Place) RunCase(ctx context.Context, bin string, c TestCase, timeout time.Duration) (Outcome, error) {
	name := c.Name
	tmp, err := os.MkdirTemp("", "upstream-case-")
	if err != nil {
		return Outcome{}, err
	}
	defer os.RemoveAll(tmp)
	var env, flags []string
	if hostFIFOFiles[c.File] {
		// TEST_TMPDIR is the same path natively and in the sandbox (a bind
		// mount, served by the gofer), so the tree can live there.
		tree, err := hostFIFOTree(tmp)
		if err != nil {
			return Outcome{}, err
		}
		env = append(env, "TEST_FIFO_TREE="+tree)
		flags = append(flags, "--host-fifo=open")
	}
	argv := []string{bin, "--gtest_filter=" + name}
	start := time.Now()
	var out []byte
	var code int
	var hung bool
	if p.Runsc == "" {
		out, code, hung, err = runNative(ctx, argv, tmp, env, timeout)
	} else {
		sandboxTmp := tmp
		if tmpfsFiles[c.File] {
			sandboxTmp = "/tmp"
		}
		out, code, hung, err = p.runSandboxed(ctx, argv, tmp, sandboxTmp, env, flags, fileCaps[c.File], timeout)
	}
	if err != nil {
		return Outcome{Status: Error, Duration: time.Since(start), Output: err.Error()}, nil
	}
	o := Outcome{Duration: time.Since(start), Output: tail(out, 1500)}
	switch {
	case hung:
		o.Status = Hang
	case code == 0 && bytes.Contains(out, []byte("[  SKIPPED ] "+name)):
		o.Status = Skip
	case code == 0 && bytes.Contains(out, []byte("[       OK ] "+name)):
		o.Status = Pass
	case code == 0:
		// Exit 0 without the case having run: a wrong filter.
		o.Status = Error
		o.Output = "the binary ran no case named " + name + "\n" + o.Output
	default:
		o.Status = Fail
	}
	return o, nil
}

// runNative runs argv, with env added to the environment, in its own process
// group and kills the whole group at the deadline, so that no thread or child
// of a hung test is left.
func runNative(ctx context.Context, argv []string, tmp string, env []string, timeout time.Duration) ([]byte, int, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "TEST_TMPDIR="+tmp), env...)
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, 0, false, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return out.Bytes(), 0, false, err
		}
		return out.Bytes(), cmd.ProcessState.ExitCode(), false, nil
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.Bytes(), -1, true, nil
	}
}

// runSandboxed runs argv in a runsc sandbox whose root is the host's,
// read-only (oci.Options.HostRoot), with tmp bind-mounted, testTmp (tmp, or
// the sandbox's tmpfs /tmp) as TEST_TMPDIR and working directory, env added
// to the environment, flags to runsc's and caps to the default capabilities.
func (p Place) runSandboxed(ctx context.Context, argv []string, tmp, testTmp string, extraEnv, flags, caps []string, timeout time.Duration) ([]byte, int, bool, error) {
	sb, err := sandbox.NewStateBase("/tmp")
	if err != nil {
		return nil, 0, false, err
	}
	defer sb.Close()
	rt, err := sb.Runtime(p.Name, p.Runsc)
	if err != nil {
		return nil, 0, false, err
	}
	bundle, logs := filepath.Join(sb.Dir, "bundle"), filepath.Join(sb.Dir, "logs")
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"TEST_TMPDIR=" + testTmp, "TEST_ON_GVISOR=" + p.Platform,
	}
	env = append(env, extraEnv...)
	if _, err := oci.Write(bundle, oci.Options{
		HostRoot: true, Command: argv, Cwd: testTmp, Env: env, ExtraCaps: caps,
		// The binary's directory and TEST_TMPDIR are bind-mounted: the
		// host root the sandbox sees has its own /tmp.
		Binds: []oci.Bind{{Source: filepath.Dir(argv[0]), Destination: filepath.Dir(argv[0])}, {Source: tmp, Destination: tmp}},
	}); err != nil {
		return nil, 0, false, err
	}
	res, err := sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: p.Runsc, StateRoot: rt.StateRoot, Bundle: bundle, LogDir: logs,
		Variant: sandbox.Variant{Platform: p.Platform, Network: "none", DirectFS: "default"},
		Flags:   flags,
		Timeout: timeout,
	})
	if err != nil {
		return nil, 0, false, err
	}
	out := append(append([]byte(nil), res.Stdout...), res.Stderr...)
	if res.TimedOut {
		return out, -1, true, nil
	}
	if res.Canceled {
		return out, -1, false, fmt.Errorf("cancelled: %s", res.Failure())
	}
	return out, res.ExitCode, false, nil
}

// tail returns the last n bytes of b, from a line start.
func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "..." + s
}
