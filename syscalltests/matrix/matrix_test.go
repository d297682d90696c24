package matrix

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/syscalltests/guestio"
	"github.com/restartsys/restartsys/syscalltests/internal/ctest"
)

var dispositions = []string{"restart", "norestart", "ignore", "block", "stop"}

// neverRestarted are the shapes that signal(7) (and Linux) fail with EINTR
// when a handler interrupts them, with or without SA_RESTART.
var neverRestarted = map[string]bool{
	"epoll_wait/pipe":               true,
	"poll/pipe":                     true,
	"select/pipe":                   true,
	"pselect/pipe":                  true,
	"ppoll/pipe":                    true,
	"nanosleep":                     true,
	"clock_nanosleep/rel":           true,
	"clock_nanosleep/abs":           true,
	"sigsuspend":                    true,
	"pause":                         true,
	"futex-wait/timeout":            true,
	"futex-wait-bitset/abs-timeout": true,
	"recv/unix-stream/rcvtimeo":     true,
	"read/unix-stream/rcvtimeo":     true,
	"recv/unix-dgram/rcvtimeo":      true,
	"recv/tcp/rcvtimeo":             true,
	"recv/udp/rcvtimeo":             true,
	"send/unix-stream/sndtimeo":     true,
	"msgrcv":                        true,
	"msgsnd/full":                   true,
	"semop":                         true,
	"semtimedop/timeout":            true,

	// A storm shape: SIGUSR1 every 100 ms, never completed.
	"recv/unix-stream/rcvtimeo-300ms-storm": true,
}

// timesOut are the storm shapes: never completed, they end with their own
// timeout (EAGAIN) when no handler interrupts them.
var timesOut = map[string]bool{"recv/unix-stream/rcvtimeo-300ms-storm": true}

// endedBySIGUSR2 are the shapes that only a signal ends: under "ignore" and
// "block" the guest ends them with SIGUSR2 (a handler without SA_RESTART).
var endedBySIGUSR2 = map[string]bool{"sigsuspend": true, "pause": true}

// wakesWithoutError holds the one Linux quirk in the matrix: a TCP
// recvfrom(NULL, 0, MSG_PEEK|MSG_TRUNC) sleeps once and returns 0 when a
// signal wakes it, so it reports "ok" even without SA_RESTART.
var wakesWithoutError = map[string]bool{"recvfrom/tcp/peek-trunc": true}

// alwaysRestarted are the shapes that Linux restarts even after a handler
// without SA_RESTART: futex_lock_pi() turns EINTR into ERESTARTNOINTR.
var alwaysRestarted = map[string]bool{"futex-lock-pi": true}

// failsAfterStop are the shapes that Linux fails with EINTR after the process
// is stopped (SIGSTOP) and continued (SIGCONT) with no handler at all: the
// list in signal(7), "Interruption of system calls and library functions by
// stop signals" (epoll_wait, SO_RCVTIMEO/SO_SNDTIMEO socket calls, semop,
// semtimedop). Every other shape is restarted; msgrcv and msgsnd in
// particular (ERESTARTNOHAND in ipc/msg.c).
var failsAfterStop = map[string]bool{
	"epoll_wait/pipe":                       true,
	"recv/unix-stream/rcvtimeo":             true,
	"read/unix-stream/rcvtimeo":             true,
	"recv/unix-dgram/rcvtimeo":              true,
	"recv/tcp/rcvtimeo":                     true,
	"recv/udp/rcvtimeo":                     true,
	"send/unix-stream/sndtimeo":             true,
	"recv/unix-stream/rcvtimeo-300ms-storm": true,
	"semop":                                 true,
	"semtimedop/timeout":                    true,
}

// sendsPart are the shapes whose call has moved part of its data when the
// signal comes: Linux returns that count (unix_stream_sendmsg: "sent ?:
// err"), so a handler, with or without SA_RESTART, or a stop ends the call
// short ("short"); an ignored or blocked signal does not wake it.
var sendsPart = map[string]bool{"write/unix-stream/256k-partial": true}

// want is the native Linux outcome of a cell.
func want(shape, disp string) guestio.Observed {
	if sendsPart[shape] {
		switch disp {
		case "restart", "norestart":
			return guestio.Observed{Result: "short", HandlerRan: true}
		case "stop":
			return guestio.Observed{Result: "short"}
		}
		return guestio.Observed{Result: "ok"}
	}
	switch disp {
	case "stop":
		// No handler runs; sigsuspend and pause go on waiting after
		// SIGCONT and are ended by SIGUSR2.
		if failsAfterStop[shape] || endedBySIGUSR2[shape] {
			return guestio.Observed{Result: "EINTR"}
		}
		return guestio.Observed{Result: "ok"}
	case "ignore", "block":
		if endedBySIGUSR2[shape] {
			return guestio.Observed{Result: "EINTR"}
		}
		if timesOut[shape] {
			return guestio.Observed{Result: "EAGAIN"}
		}
		return guestio.Observed{Result: "ok"}
	case "restart":
		if neverRestarted[shape] {
			return guestio.Observed{Result: "EINTR", HandlerRan: true}
		}
		return guestio.Observed{Result: "ok", HandlerRan: true}
	default: // norestart
		if wakesWithoutError[shape] || alwaysRestarted[shape] {
			return guestio.Observed{Result: "ok", HandlerRan: true}
		}
		return guestio.Observed{Result: "EINTR", HandlerRan: true}
	}
}

// build compiles the guest into a temporary directory.
func build(t *testing.T) string {
	return ctest.Build(t, "matrix")
}

// run runs the guest natively with args and decodes its report.
func run(t *testing.T, bin string, args ...string) *guestio.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = withHostFIFO(t)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstderr:\n%s", bin, args, err, stderr.String())
	}
	rep, err := guestio.Read(&stdout)
	if err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	if rep.Program != "matrix" {
		t.Fatalf("program = %q, want %q", rep.Program, "matrix")
	}
	t.Logf("%s", strings.TrimSpace(stderr.String()))
	return rep
}

// list returns the shape names the guest prints for -list.
func list(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-list"}, args...)...)
	cmd.Env = withHostFIFO(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -list: %v", bin, err)
	}
	return strings.Fields(string(out))
}

// withHostFIFO returns this process's environment with MATRIX_HOST_FIFO
// naming a fresh FIFO, so that the host-fifo shapes run (natively the
// FIFO is just another FIFO).
func withHostFIFO(t *testing.T) []string {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	return append(os.Environ(), "MATRIX_HOST_FIFO="+fifo)
}

// checkCells asserts the native oracle for every cell of rep and that the
// cells are exactly shapes x dispositions, in order.
func checkCells(t *testing.T, rep *guestio.Report, shapes []string) {
	t.Helper()
	if got, wantN := len(rep.Cases), len(shapes)*len(dispositions); got != wantN {
		t.Fatalf("%d cases, want %d (%d shapes x %d dispositions)", got, wantN, len(shapes), len(dispositions))
	}
	for i, c := range rep.Cases {
		shape, disp := shapes[i/len(dispositions)], dispositions[i%len(dispositions)]
		if c.Shape != shape || c.Disposition != disp {
			t.Errorf("case %d is %s/%s, want %s/%s", i, c.Shape, c.Disposition, shape, disp)
			continue
		}
		if w := want(shape, disp); c.Observed != w {
			t.Errorf("%s/%s: observed %+v, want %+v (note %q)", shape, disp, c.Observed, w, c.Note)
		}
		for _, k := range []string{"returned_before_signal", "forced_unblock"} {
			if v, ok := c.Counters[k]; !ok || v != 0 {
				t.Errorf("%s/%s: counter %s = %d (present %v), want 0 (note %q)", shape, disp, k, v, ok, c.Note)
			}
		}
		if _, ok := c.Counters["elapsed_ms"]; !ok {
			t.Errorf("%s/%s: no elapsed_ms counter", shape, disp)
		}
	}
}

func TestFlags(t *testing.T) {
	bin := build(t)
	all := list(t, bin)
	if len(all) < 40 {
		t.Errorf("-list prints %d shapes, want at least 40", len(all))
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s] {
			t.Errorf("shape %q listed twice", s)
		}
		seen[s] = true
	}
	for name := range neverRestarted {
		if !seen[name] {
			t.Errorf("oracle names shape %q that the guest does not have", name)
		}
	}
	// Without MATRIX_HOST_FIFO the host-fifo shapes are left out.
	out, err := exec.Command(bin, "-list", "-filter", "fifo").Output()
	if err != nil {
		t.Fatalf("%s -list: %v", bin, err)
	}
	if got, want := strings.Fields(string(out)), []string{"open/fifo-rdonly", "open/fifo-wronly"}; !slices.Equal(got, want) {
		t.Errorf("-list -filter fifo without MATRIX_HOST_FIFO = %q, want %q", got, want)
	}
	if !seen["open/host-fifo-rdonly"] || !seen["open/host-fifo-wronly"] {
		t.Errorf("-list with MATRIX_HOST_FIFO lacks the host-fifo shapes")
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"read/pipe", []string{"read/pipe"}},
		{"rcvtimeo", []string{"recv/unix-stream/rcvtimeo", "read/unix-stream/rcvtimeo", "recv/unix-dgram/rcvtimeo", "recv/tcp/rcvtimeo", "recv/udp/rcvtimeo", "recv/unix-stream/rcvtimeo-300ms-storm"}},
		{"no-such-shape", nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := list(t, bin, "-filter", tt.filter)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("-list -filter %s = %q, want %q", tt.filter, got, tt.want)
			}
		})
	}
	rep := run(t, bin, "-filter", "read/pipe", "-disp", "norestart,block")
	if len(rep.Cases) != 2 || rep.Cases[0].Disposition != "norestart" || rep.Cases[1].Disposition != "block" {
		t.Errorf("-filter read/pipe -disp norestart,block gave %+v", rep.Cases)
	}
}

// TestSignal7Facts checks the facts signal(7) states, each on its own small
// run of the guest.
func TestSignal7Facts(t *testing.T) {
	bin := build(t)
	tests := []struct {
		shape, disp string
		want        guestio.Observed
	}{
		{"read/pipe", "restart", guestio.Observed{Result: "ok", HandlerRan: true}},
		{"read/pipe", "norestart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"read/pipe", "ignore", guestio.Observed{Result: "ok"}},
		{"read/pipe", "block", guestio.Observed{Result: "ok"}},
		{"recvfrom/unix-seqpacket/peek-trunc", "restart", guestio.Observed{Result: "ok", HandlerRan: true}},
		{"sigsuspend", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"sigsuspend", "block", guestio.Observed{Result: "EINTR"}},
		{"nanosleep", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"nanosleep", "ignore", guestio.Observed{Result: "ok"}},
		{"recv/unix-stream/rcvtimeo", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"send/unix-stream/sndtimeo", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"recv/unix-stream/rcvtimeo-300ms-storm", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"recv/unix-stream/rcvtimeo-300ms-storm", "ignore", guestio.Observed{Result: "EAGAIN"}},
		{"futex-wait", "restart", guestio.Observed{Result: "ok", HandlerRan: true}},
		{"futex-wait/timeout", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"futex-lock-pi", "norestart", guestio.Observed{Result: "ok", HandlerRan: true}},
		{"open/fifo-rdonly", "restart", guestio.Observed{Result: "ok", HandlerRan: true}},
		{"msgrcv", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"semop", "restart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"wait4/child", "restart", guestio.Observed{Result: "ok", HandlerRan: true}},
		{"fcntl-setlkw/child", "norestart", guestio.Observed{Result: "EINTR", HandlerRan: true}},
		{"read/pipe", "stop", guestio.Observed{Result: "ok"}},
		{"msgrcv", "stop", guestio.Observed{Result: "ok"}},
		{"msgsnd/full", "stop", guestio.Observed{Result: "ok"}},
		{"semop", "stop", guestio.Observed{Result: "EINTR"}},
		{"epoll_wait/pipe", "stop", guestio.Observed{Result: "EINTR"}},
		{"recv/unix-stream/rcvtimeo", "stop", guestio.Observed{Result: "EINTR"}},
		{"nanosleep", "stop", guestio.Observed{Result: "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.shape+"/"+tt.disp, func(t *testing.T) {
			rep := run(t, bin, "-filter", tt.shape, "-disp", tt.disp)
			var got []guestio.Case
			for _, c := range rep.Cases {
				if c.Shape == tt.shape {
					got = append(got, c)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d cases for %s/%s, want 1", len(got), tt.shape, tt.disp)
			}
			if got[0].Observed != tt.want {
				t.Errorf("observed %+v, want %+v (note %q)", got[0].Observed, tt.want, got[0].Note)
			}
			if w := want(tt.shape, tt.disp); w != tt.want {
				t.Errorf("oracle function says %+v, table says %+v", w, tt.want)
			}
		})
	}
}

// TestNativeOracle runs the whole matrix natively (about 20 s) and checks
// every cell against the Linux rules above.
func TestNativeOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("the full matrix takes about 20 s")
	}
	if os.Getenv("MATRIX_SKIP_FULL") != "" {
		t.Skip("MATRIX_SKIP_FULL is set")
	}
	bin := build(t)
	shapes := list(t, bin)
	rep := run(t, bin)
	checkCells(t, rep, shapes)
	for _, c := range rep.Cases {
		if strings.HasPrefix(c.Shape, "nanosleep") && (c.Disposition == "ignore" || c.Disposition == "block") {
			if ms := c.Counters["elapsed_ms"]; ms < 550 {
				t.Errorf("%s/%s: slept %d ms, want the full 600 ms", c.Shape, c.Disposition, ms)
			}
		}
		checkStorm(t, c)
	}
}

// checkStorm checks the timing of a storm cell: a handler ends the call at
// the first signal (the call is not restarted with a new timeout), and
// without one the 300 ms timeout expires on time.
func checkStorm(t *testing.T, c guestio.Case) {
	t.Helper()
	if !timesOut[c.Shape] || c.Disposition == "stop" {
		// Under "stop" a storm shape is stopped and continued once, and
		// want() checks that it fails with EINTR.
		return
	}
	ms, ok := c.Counters["storm_return_ms"]
	switch {
	case !ok:
		t.Errorf("%s/%s: no storm_return_ms counter (note %q)", c.Shape, c.Disposition, c.Note)
	case c.Observed.HandlerRan && ms > 50:
		t.Errorf("%s/%s: returned %d ms after the first signal, want at most 50", c.Shape, c.Disposition, ms)
	case !c.Observed.HandlerRan && (c.Counters["elapsed_ms"] < 280 || c.Counters["elapsed_ms"] > 600):
		t.Errorf("%s/%s: timed out after %d ms, want about 300", c.Shape, c.Disposition, c.Counters["elapsed_ms"])
	}
}
