// Command dind is the init of the Docker-in-Docker container of
// `runsc-harness e2e docker`, which runs under runsc. It mounts what the
// inner daemons need (a tmpfs on /run, cgroup v1 hierarchies if the
// sandbox has none), starts containerd and dockerd (vfs, no iptables, no
// bridge, runc 1.2.5 as the default runtime), imports the guest image from
// /guest.tar, and per mode runs N sequential `docker run` and N `docker
// exec` into one long-lived container, with or without a SIGURG storm on
// runc's threads. It prints one e2e.Stat per (op, mode) on stdout as a
// line starting with e2e.StatPrefix, and counts the lines of dockerd's log
// that carry the field message. Daemon logs go to /out.
//
// As PID 1 it re-executes itself as a child and reaps every orphan.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"golang.org/x/sys/unix"
)

// dockerdLog is where the inner dockerd writes its log (on the host's
// bind mount, so it survives the container).
const dockerdLog = "/out/dockerd.log"

func main() {
	if os.Getpid() == 1 && os.Getenv("DIND_CHILD") == "" {
		os.Exit(e2e.RunAsInit("dind", "DIND_CHILD=1"))
	}
	os.Exit(drive())
}

type config struct {
	runs, execs int
	modes       []e2e.Mode
	interval    time.Duration
	opTimeout   time.Duration
}

func drive() int {
	var c config
	flag.IntVar(&c.runs, "runs", 0, "docker run per mode")
	flag.IntVar(&c.execs, "execs", 10, "docker exec per mode")
	modes := flag.String("modes", "plain,storm", "modes, comma-separated (plain, storm)")
	flag.DurationVar(&c.interval, "storm-interval", 200*time.Microsecond, "SIGURG storm period")
	flag.DurationVar(&c.opTimeout, "op-timeout", 60*time.Second, "deadline of one docker command")
	flag.Parse()
	for _, m := range strings.Split(*modes, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.modes = append(c.modes, e2e.Mode(m))
		}
	}
	if err := setup(c); err != nil {
		fmt.Fprintf(os.Stderr, "dind: setup: %v\n", err)
		return 1
	}
	for _, m := range c.modes {
		if c.runs > 0 {
			emit(c.ops(e2e.OpRun, m, c.runs))
		}
		if c.execs > 0 {
			emit(c.ops(e2e.OpExec, m, c.execs))
		}
	}
	return 0
}

func emit(s e2e.Stat) {
	js, _ := json.Marshal(s)
	fmt.Printf("%s%s\n", e2e.StatPrefix, js)
	fmt.Fprintf(os.Stderr, "dind: docker %s/%s: %d/%d failed, mean %.0f ms, %d field lines in dockerd's log\n",
		s.Op, s.Mode, s.Failures, s.Runs, s.MeanMS, s.DaemonLines)
}

// setup mounts /run and, if missing, cgroup v1 hierarchies, starts
// containerd and dockerd, waits for dockerd and imports the guest image.
func setup(c config) error {
	mounts := []struct{ src, dst, fstype, data string }{{"tmpfs", "/run", "tmpfs", "mode=755"}}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		mounts = append(mounts, struct{ src, dst, fstype, data string }{"tmpfs", "/sys/fs/cgroup", "tmpfs", "mode=755"})
		for _, ctrl := range []string{"cpu", "cpuacct", "cpuset", "devices", "memory", "pids"} {
			mounts = append(mounts, struct{ src, dst, fstype, data string }{"cgroup", "/sys/fs/cgroup/" + ctrl, "cgroup", ctrl})
		}
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, m.data); err != nil {
			return fmt.Errorf("mount -t %s -o %s %s: %w", m.fstype, m.data, m.dst, err)
		}
	}
	// No CRI plugin: it wants a loopback address the sandbox lacks with
	// --network none, and nothing here uses it.
	if err := os.WriteFile("/run/containerd.toml", []byte("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"), 0o644); err != nil {
		return err
	}
	if err := daemon("/out/containerd.log", "containerd", "--config", "/run/containerd.toml", "--root", "/var/lib/containerd",
		"--state", "/run/containerd", "--address", "/run/containerd/containerd.sock"); err != nil {
		return err
	}
	if err := waitFor(30*time.Second, func() bool { _, err := os.Stat("/run/containerd/containerd.sock"); return err == nil }); err != nil {
		return fmt.Errorf("containerd did not start: %w", err)
	}
	if err := daemon(dockerdLog, "dockerd", "--containerd", "/run/containerd/containerd.sock",
		"--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"); err != nil {
		return err
	}
	if err := waitFor(60*time.Second, func() bool { _, _, err := c.docker("version"); return err == nil }); err != nil {
		return fmt.Errorf("dockerd did not start: %w", err)
	}
	if out, stderr, err := c.docker("import", "/guest.tar", "guest:latest"); err != nil {
		return fmt.Errorf("docker import: %v: %s%s", err, out, stderr)
	}
	return nil
}

// daemon starts a long-lived program with its output in logPath.
func daemon(logPath, name string, args ...string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	go cmd.Wait() //nolint:errcheck // reaped; its log says why it died
	return nil
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", d)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// docker runs the docker CLI under the op deadline and returns its stdout,
// stderr and error.
func (c config) docker(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "DOCKER_HOST=unix:///var/run/docker.sock"}
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("docker %s: killed at the %v deadline", args[0], c.opTimeout)
	}
	return stdout.String(), stderr.String(), err
}

// guestArgs are the docker flags every guest container gets: the setup
// the issue measured (no network, no seccomp filter inside gVisor).
var guestArgs = []string{"--network", "none", "--security-opt", "seccomp=unconfined"}

// ops runs n sequential op (docker run --rm, or docker exec into a
// long-lived container) in mode m.
func (c config) ops(op e2e.Op, m e2e.Mode, n int) e2e.Stat {
	st := e2e.Stat{Op: op, Mode: m, Errors: map[string]int{}, Samples: map[string]string{}}
	name := "sleeper-" + string(m)
	id := ""
	if op == e2e.OpExec {
		// The long-lived container starts before the storm and is retried:
		// it is the setup, not what is measured.
		for try := 0; try < 3; try++ {
			_, _, _ = c.docker("rm", "-f", name)
			out, stderr, err := c.docker(append(append([]string{"run", "-d", "--name", name}, guestArgs...), "guest:latest", "/guest", "sleep")...)
			if err == nil {
				id, st.Setup = strings.TrimSpace(out), ""
				break
			}
			st.Setup = fmt.Sprintf("docker run -d: %v: %s", err, e2e.NormaliseError(stderr, ""))
		}
		if st.Setup != "" {
			return st
		}
		defer c.docker("rm", "-f", name) //nolint:errcheck // best effort
	}
	logStart := logSize()
	var ms []int64
	s := e2e.StartStorm(m == e2e.ModeStorm, c.interval)
	for i := 0; i < n; i++ {
		args := append(append([]string{"run", "--rm"}, guestArgs...), "guest:latest", "/guest", "true")
		if op == e2e.OpExec {
			args = []string{"exec", name, "/guest", "true"}
		}
		start := time.Now()
		out, stderr, err := c.docker(args...)
		if op == e2e.OpExec {
			// docker exec prints the runtime's error on stdout.
			stderr = out + stderr
		}
		ms = append(ms, time.Since(start).Milliseconds())
		record(&st, err, stderr, id)
		if (i+1)%50 == 0 {
			fmt.Fprintf(os.Stderr, "dind: docker %s/%s: %d done, %d failed\n", op, m, st.Runs, st.Failures)
		}
	}
	st.Signals = s.End()
	st.Summarise(ms)
	st.DaemonLines, st.DaemonSample = fieldLines(logStart)
	return st
}

// record counts one operation's outcome in st.
func record(st *e2e.Stat, err error, stderr, id string) {
	st.Runs++
	if err == nil {
		return
	}
	st.Failures++
	msg := e2e.NormaliseError(stderr, id)
	if len(id) > 12 {
		msg = strings.ReplaceAll(msg, id[:12], "<id>")
	}
	if strings.TrimSpace(stderr) == "" || strings.Contains(err.Error(), "deadline") {
		msg = err.Error()
	}
	st.Errors[msg]++
	if _, ok := st.Samples[msg]; !ok {
		if len(stderr) > 2000 {
			stderr = stderr[:2000] + "..."
		}
		st.Samples[msg] = stderr
	}
}

func logSize() int64 {
	fi, err := os.Stat(dockerdLog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// fieldLines counts the lines dockerd logged from offset on that carry
// the field message, and returns the first.
func fieldLines(offset int64) (int, string) {
	b, err := os.ReadFile(dockerdLog)
	if err != nil || int64(len(b)) < offset {
		return 0, ""
	}
	n, first := 0, ""
	for _, line := range bytes.Split(b[offset:], []byte("\n")) {
		if bytes.Contains(line, []byte(e2e.FieldError)) {
			if n == 0 {
				first = string(line)
				if len(first) > 1000 {
					first = first[:1000] + "..."
				}
			}
			n++
		}
	}
	return n, first
}
