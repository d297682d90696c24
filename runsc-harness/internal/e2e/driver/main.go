// Command driver runs inside the runsc sandbox of `runsc-harness e2e runc`,
// as its init. It mounts the cgroup v1 hierarchies runc wants, then runs N
// sequential `runc run` and N `runc exec -d` per mode (plain, SIGURG storm,
// GODEBUG=asyncpreemptoff=1), every one bounded by a deadline, and prints
// one e2e.Stat per (op, mode) on stdout as a line starting with
// e2e.StatPrefix. Progress goes to stderr.
//
// The same binary is the containers' process (/guest in their rootfs):
// "true" exits 0 at once, "sleep" reaps children and sleeps forever.
//
// As PID 1 it re-executes itself as a child and reaps every orphan (the
// processes `runc exec -d` leaves) until that child exits.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "true":
			os.Exit(0)
		case "sleep":
			sleepForever()
		}
	}
	if os.Getpid() == 1 && os.Getenv("E2E_DRIVER_CHILD") == "" {
		os.Exit(e2e.RunAsInit("driver", "E2E_DRIVER_CHILD=1"))
	}
	os.Exit(drive())
}

func sleepForever() {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(-1, &ws, 0, nil)
		if err != nil && !errors.Is(err, unix.EINTR) {
			// ECHILD: nothing to reap yet.
			time.Sleep(time.Second)
		}
	}
}

type config struct {
	runc       string
	root       string
	runBundle  string
	execBundle string
	runs       int
	execs      int
	modes      []e2e.Mode
	interval   time.Duration
	opTimeout  time.Duration
}

func drive() int {
	c := config{}
	flag.StringVar(&c.runc, "runc", "/runc", "runc binary")
	flag.StringVar(&c.root, "root", "/run/runc", "runc --root (a tmpfs is mounted on /run)")
	flag.StringVar(&c.runBundle, "run-bundle", "/bundles/run", "bundle of the run-and-exit container")
	flag.StringVar(&c.execBundle, "exec-bundle", "/bundles/sleep", "bundle of the long-lived container exec goes into")
	flag.IntVar(&c.runs, "runs", 10, "runc run per mode")
	flag.IntVar(&c.execs, "execs", 10, "runc exec -d per mode")
	modes := flag.String("modes", "plain,storm,asyncpreemptoff", "modes, comma-separated")
	flag.DurationVar(&c.interval, "storm-interval", 200*time.Microsecond, "SIGURG storm period")
	flag.DurationVar(&c.opTimeout, "op-timeout", 30*time.Second, "deadline of one runc command")
	flag.Parse()
	for _, m := range strings.Split(*modes, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.modes = append(c.modes, e2e.Mode(m))
		}
	}
	if err := setup(c); err != nil {
		fmt.Fprintf(os.Stderr, "driver: setup: %v\n", err)
		return 1
	}
	for _, m := range c.modes {
		if c.runs > 0 {
			emit(c.runOps(m))
		}
		if c.execs > 0 {
			emit(c.execOps(m))
		}
	}
	return 0
}

func emit(s e2e.Stat) {
	js, _ := json.Marshal(s)
	fmt.Printf("%s%s\n", e2e.StatPrefix, js)
	fmt.Fprintf(os.Stderr, "driver: %s/%s: %d/%d failed, mean %.0f ms\n", s.Op, s.Mode, s.Failures, s.Runs, s.MeanMS)
}

// setup mounts a tmpfs on /run (runc's state) and cgroup v1 hierarchies
// on a tmpfs at /sys/fs/cgroup.
func setup(c config) error {
	mounts := []struct{ src, dst, fstype, data string }{
		{"tmpfs", "/run", "tmpfs", "mode=755"},
		{"tmpfs", "/sys/fs/cgroup", "tmpfs", "mode=755"},
	}
	for _, ctrl := range []string{"cpu", "cpuacct", "cpuset", "devices", "memory", "pids"} {
		mounts = append(mounts, struct{ src, dst, fstype, data string }{"cgroup", "/sys/fs/cgroup/" + ctrl, "cgroup", ctrl})
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, m.data); err != nil {
			return fmt.Errorf("mount -t %s -o %s %s: %w", m.fstype, m.data, m.dst, err)
		}
	}
	return os.MkdirAll(c.root, 0o700)
}

// runcCmd runs runc with args under the op deadline, with stdin from
// /dev/null and stdout and stderr in files (a detached process keeps them
// open, so pipes would not see EOF). It returns the error message ("" on
// success), runc's raw stderr and the wall time.
func (c config) runcCmd(m e2e.Mode, id string, args ...string) (string, string, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opTimeout)
	defer cancel()
	errf, err := os.CreateTemp("/tmp", "runc-stderr-")
	if err != nil {
		return "driver: " + err.Error(), "", 0
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return "driver: " + err.Error(), "", 0
	}
	defer null.Close()
	full := append([]string{"--root", c.root}, args...)
	cmd := exec.CommandContext(ctx, c.runc, full...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, errf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if m == e2e.ModeAsyncPreemptOff {
		cmd.Env = append(cmd.Env, "GODEBUG=asyncpreemptoff=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	raw, _ := os.ReadFile(errf.Name())
	if err == nil {
		return "", string(raw), d
	}
	if ctx.Err() != nil {
		return fmt.Sprintf("runc %s: killed at the %v deadline", args[0], c.opTimeout), string(raw), d
	}
	msg := e2e.NormaliseError(string(raw), id)
	if len(bytes.TrimSpace(raw)) == 0 {
		msg = fmt.Sprintf("runc %s: %v (no stderr)", args[0], err)
	}
	return msg, string(raw), d
}

// record counts one operation's outcome in st.
func record(st *e2e.Stat, msg, raw string) {
	st.Runs++
	if msg == "" {
		return
	}
	st.Failures++
	st.Errors[msg]++
	if _, ok := st.Samples[msg]; !ok {
		if len(raw) > 2000 {
			raw = raw[:2000] + "..."
		}
		st.Samples[msg] = raw
	}
}

// cleanup force-deletes container id (quietly; it may not exist).
func (c config) cleanup(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.runc, "--root", c.root, "delete", "--force", id)
	_ = cmd.Run()
}

func (c config) runOps(m e2e.Mode) e2e.Stat {
	st := e2e.Stat{Op: e2e.OpRun, Mode: m, Errors: map[string]int{}, Samples: map[string]string{}}
	var ms []int64
	s := e2e.StartStorm(m == e2e.ModeStorm, c.interval)
	for i := 0; i < c.runs; i++ {
		id := fmt.Sprintf("run-%s-%d", m, i)
		msg, raw, d := c.runcCmd(m, id, "run", "--no-new-keyring", "--bundle", c.runBundle, id)
		record(&st, msg, raw)
		ms = append(ms, d.Milliseconds())
		c.cleanup(id)
		progress(st, i)
	}
	st.Signals = s.End()
	st.Summarise(ms)
	return st
}

func (c config) execOps(m e2e.Mode) e2e.Stat {
	st := e2e.Stat{Op: e2e.OpExec, Mode: m, Errors: map[string]int{}, Samples: map[string]string{}}
	id := "sleeper-" + string(m)
	defer c.cleanup(id)
	// The long-lived container starts before the storm, and is retried:
	// it is the setup, not what is measured.
	var setupErr string
	for try := 0; try < 3; try++ {
		msg, _, _ := c.runcCmd(m, id, "run", "-d", "--no-new-keyring", "--bundle", c.execBundle, id)
		if msg == "" {
			setupErr = ""
			break
		}
		setupErr = "runc run -d: " + msg
		c.cleanup(id)
	}
	if setupErr != "" {
		st.Setup = setupErr
		return st
	}
	var ms []int64
	s := e2e.StartStorm(m == e2e.ModeStorm, c.interval)
	for i := 0; i < c.execs; i++ {
		msg, raw, d := c.runcCmd(m, id, "exec", "-d", id, "/guest", "true")
		record(&st, msg, raw)
		ms = append(ms, d.Milliseconds())
		progress(st, i)
	}
	st.Signals = s.End()
	st.Summarise(ms)
	return st
}

func progress(st e2e.Stat, i int) {
	if (i+1)%50 == 0 {
		fmt.Fprintf(os.Stderr, "driver: %s/%s: %d done, %d failed\n", st.Op, st.Mode, st.Runs, st.Failures)
	}
}
