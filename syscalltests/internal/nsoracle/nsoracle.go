// Package nsoracle is the native Linux oracle shared by the nsc and nsgo
// guests' tests: what Linux shows for each PID-1 signal cell and each mount
// namespace cell, and a way to run a guest the way the harness runs its
// native side (PID 1 of new PID and mount namespaces).
package nsoracle

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// Signals are the signals of the PID-1 cells, in report order.
var Signals = []string{"SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"}

// Senders are the dispositions of the PID-1 cells, in report order.
var Senders = []string{"from-inside", "from-parent-ns", "not-init"}

// Observers are the shapes' last element of the mount namespace cells, in
// report order.
var Observers = []string{"self", "other-thread", "child", "after-setns", "parent-ns"}

// PID1 is what Linux does to a subject of language lang ("c": every signal
// at SIG_DFL; "go": the Go runtime's handlers, no signal.Notify) when sig
// is sent as disp says.
//
// Linux (kernel/signal.c, sig_task_ignored()) drops a signal whose handler
// is SIG_DFL when the target is its PID namespace's init (SIGNAL_UNKILLABLE),
// unless the signal is SIGKILL or SIGSTOP and comes from an ancestor
// namespace. A Go subject has a handler for SIGTERM, SIGINT and SIGHUP, so
// those are delivered; the runtime then resets the handler and raises the
// signal again from inside the namespace, which is dropped, and falls back
// to exit(2) (runtime.dieFromSignal, Go 1.26).
func PID1(lang, sig, disp string) string {
	switch {
	case disp == "not-init":
		return "signaled:" + sig
	case sig == "SIGKILL" && disp == "from-parent-ns":
		return "signaled:SIGKILL"
	case sig == "SIGKILL":
		return "survived"
	case lang == "go":
		return "exited:2"
	}
	return "survived"
}

// Mntns is what Linux shows an observer of a bind mount made after
// unshare(CLONE_NEWNS) when every call of the trial runs on one thread
// (disposition "pthread" or "locked"): the mount is visible to the thread
// that made it and to a child it forks, hidden from other threads, from
// the parent and after setns() back. Unlocked trials are "measured": their
// outcome depends on which threads the Go scheduler picked.
func Mntns(observer, disp string) string {
	if disp == "unlocked" {
		return "measured"
	}
	switch observer {
	case "self", "child":
		return "visible"
	}
	return "hidden"
}

// Want is the native Observed of a cell of the guest of language lang.
func Want(lang, shape, disp string) guestio.Observed {
	parts := strings.Split(shape, "/")
	if len(parts) != 3 || parts[1] != lang {
		return guestio.Observed{Result: "unknown shape " + shape}
	}
	if parts[0] == "pid1" {
		return guestio.Observed{Result: PID1(lang, parts[2], disp)}
	}
	return guestio.Observed{Result: Mntns(parts[2], disp)}
}

// RunNative runs bin with args as the harness runs a guest's native side:
// PID 1 of a new PID namespace, in a new mount namespace with / rprivate.
// It skips the test when not root and decodes the report.
func RunNative(t *testing.T, bin string, args ...string) *guestio.Report {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("new PID and mount namespaces need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstderr:\n%s", bin, args, err, stderr.String())
	}
	rep, err := guestio.Read(&stdout)
	if err != nil {
		t.Fatalf("decoding the report: %v\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), ": pid 1\n") {
		t.Errorf("the guest was not PID 1; stderr:\n%s", stderr.String())
	}
	return rep
}

// Check asserts the oracle on every cell of rep, that the cells are the
// expected ones in order, and that every mount namespace cell counted runs
// runs without setup errors.
func Check(t *testing.T, rep *guestio.Report, program, lang string, mntDisps []string, runs int64) {
	t.Helper()
	if rep.Program != program {
		t.Errorf("program = %q, want %q", rep.Program, program)
	}
	var want [][2]string
	for _, s := range Signals {
		for _, d := range Senders {
			want = append(want, [2]string{"pid1/" + lang + "/" + s, d})
		}
	}
	for _, d := range mntDisps {
		for _, o := range Observers {
			want = append(want, [2]string{"mntns/" + lang + "/" + o, d})
		}
	}
	if len(rep.Cases) != len(want) {
		t.Fatalf("%d cases, want %d", len(rep.Cases), len(want))
	}
	for i, c := range rep.Cases {
		if c.Shape != want[i][0] || c.Disposition != want[i][1] {
			t.Errorf("case %d is %s [%s], want %s [%s]", i, c.Shape, c.Disposition, want[i][0], want[i][1])
			continue
		}
		if w := Want(lang, c.Shape, c.Disposition); c.Observed != w {
			t.Errorf("%s [%s]: observed %+v, want %+v (counters %v, note %q)", c.Shape, c.Disposition, c.Observed, w, c.Counters, c.Note)
		}
		if strings.HasPrefix(c.Shape, "mntns/") {
			if c.Counters["runs"] != runs || c.Counters["setup_errors"] != 0 {
				t.Errorf("%s [%s]: runs %d, setup_errors %d, want %d and 0 (note %q)",
					c.Shape, c.Disposition, c.Counters["runs"], c.Counters["setup_errors"], runs, c.Note)
			}
			if got := c.Counters["visible"] + c.Counters["hidden"] + c.Counters["errors"]; got != runs {
				t.Errorf("%s [%s]: visible+hidden+errors = %d, want %d", c.Shape, c.Disposition, got, runs)
			}
		}
	}
}
