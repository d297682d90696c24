// Command nsgo is the Go side of the PID-1 signal and per-thread mount
// namespace cases (the C side is syscalltests/nsc, with the same shapes
// under "c" instead of "go"). It prints one guestio.Report (program "nsgo").
//
// Part 1, shapes pid1/go/SIG (SIGTERM, SIGINT, SIGHUP, SIGKILL): a subject,
// this program re-executed with -subject, with no signal.Notify (so only the
// Go runtime's own handlers are installed), receives the signal.
// Dispositions:
//
//	from-inside     the subject is PID 1 of a new PID namespace; a process
//	                it started (inside that namespace) sends kill(1, SIG)
//	from-parent-ns  the subject is PID 1 of a new PID namespace; this
//	                program (in the parent namespace) sends kill(pid, SIG)
//	not-init        control: the subject is an ordinary process
//
// Result: "survived" (alive 2 s after the signal was sent), or its wait
// status ("signaled:SIGTERM", "exited:2").
//
// Part 2, shapes mntns/go/OBSERVER, dispositions locked and unlocked: -runs
// times (default 1000), a fresh process (this program with -trial) does
// unshare(CLONE_NEWNS), makes / rprivate and bind-mounts SRC (holding a
// marker) on DST, then looks at DST/marker from itself ("self"), from
// another goroutine locked to another thread ("other-thread"), from a
// child process it starts ("child"), and after setns() back to its original
// mount namespace ("after-setns"); this program, which never unshared, looks
// after the run ("parent-ns"). Under "locked" the trial's goroutine calls
// runtime.LockOSThread first; under "unlocked" it does not, and two busy
// goroutines give the scheduler reason to move it between threads, so
// these calls may act on different threads, as in the field bug. Locked
// results are "visible" or "hidden" when all runs agree, else "mixed";
// unlocked results are "measured" (the rates are timing, kept in the
// counters visible, hidden, errors, runs, wrong_runs).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/restartsys/restartsys/syscalltests/guestio"
	"golang.org/x/sys/unix"
)

func main() {
	subject := flag.String("subject", "", "internal: be a PID-1 subject; value: \"inside:SIGNUM\" to have a child send SIGNUM to PID 1, or \"wait\"")
	send := flag.Int("send", 0, "internal: send this signal to PID 1 and exit")
	trial := flag.String("trial", "", "internal: run one mount namespace trial (locked or unlocked) in -dir")
	probe := flag.String("probe", "", "internal: exit 2 if this path exists, 1 if not, 0 on error")
	dir := flag.String("dir", "", "internal: trial directory")
	runs := flag.Int("runs", 1000, "mount namespace runs per disposition")
	load := flag.Int("load", 1, "busy goroutines in an unlocked trial")
	part := flag.String("part", "all", "pid1, mntns or all")
	flag.Parse()
	switch {
	case *subject != "":
		runSubject(*subject)
	case *send != 0:
		out := os.NewFile(3, "ready")
		// "sending" first: if the kill takes down the namespace's init,
		// this process goes with it.
		fmt.Fprintln(out, "sending")
		if err := syscall.Kill(1, syscall.Signal(*send)); err != nil {
			fmt.Fprintln(out, "send-failed", err)
			os.Exit(1)
		}
		fmt.Fprintln(out, "sent")
		os.Exit(0)
	case *probe != "":
		os.Exit(probeExit(*probe))
	case *trial != "":
		os.Exit(runTrial(*trial == "locked", *dir, *load))
	}
	fmt.Fprintf(os.Stderr, "nsgo: pid %d\n", os.Getpid())
	// A signal ignored when a Go program starts stays ignored, and SIG_IGN
	// survives exec: a harness started in the background of a
	// non-interactive shell has SIGINT ignored, under nohup SIGHUP too.
	// Catching them here puts a handler in place, which exec resets to
	// SIG_DFL, so subjects start with the defaults, as in a fresh sandbox.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	rep := &guestio.Report{Program: "nsgo"}
	if *part == "all" || *part == "pid1" {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGKILL} {
			for _, disp := range []string{"from-inside", "from-parent-ns", "not-init"} {
				rep.Cases = append(rep.Cases, pid1Case(sig, disp))
			}
		}
	}
	if *part == "all" || *part == "mntns" {
		for _, disp := range []string{"locked", "unlocked"} {
			rep.Cases = append(rep.Cases, mntnsCases(disp, *runs, *load)...)
		}
	}
	if err := guestio.Write(os.Stdout, rep); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var sigNames = map[syscall.Signal]string{
	syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGHUP: "SIGHUP", syscall.SIGKILL: "SIGKILL",
}

func sigName(s syscall.Signal) string {
	if n, ok := sigNames[s]; ok {
		return n
	}
	return fmt.Sprintf("SIG%d", int(s))
}

// waitStatus renders a wait status as the report does.
func waitStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited:%d", ws.ExitStatus())
	case ws.Signaled():
		return "signaled:" + sigName(ws.Signal())
	}
	return fmt.Sprintf("status:%#x", uint32(ws))
}

// runSubject is the subject process: it says on fd 3 whether it is PID 1
// (and which of SIGTERM, SIGINT, SIGHUP were ignored when it started), has
// a child send a signal to PID 1 if asked, then sleeps.
func runSubject(mode string) {
	ready := os.NewFile(3, "ready")
	var ign []string
	for _, s := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		if signal.Ignored(s) {
			ign = append(ign, sigName(s))
		}
	}
	msg := fmt.Sprintf("pid=%d ignored=%s", os.Getpid(), strings.Join(ign, ","))
	if len(ign) == 0 {
		msg += "none"
	}
	fmt.Fprintln(ready, msg)
	fmt.Fprintf(os.Stderr, "nsgo: subject %s, pid %d\n", mode, os.Getpid())
	if sig, ok := strings.CutPrefix(mode, "inside:"); ok {
		// The sender reports on the same pipe: this process may be gone
		// by the time kill returns.
		cmd := exec.Command("/proc/self/exe", "-send", sig)
		cmd.ExtraFiles = []*os.File{ready}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(ready, "send-failed", err)
		}
		ready.Close()
		cmd.Wait()
	}
	ready.Close()
	for {
		time.Sleep(time.Hour)
	}
}

// survivalWindow is how long a subject must outlive the signal to count
// as "survived": long enough for a loaded 2-core machine to schedule a Go
// runtime's dieFromSignal.
const survivalWindow = 2 * time.Second

// pid1Case runs one PID-1 cell.
func pid1Case(sig syscall.Signal, disp string) guestio.Case {
	c := guestio.Case{Shape: "pid1/go/" + sigName(sig), Disposition: disp, Counters: map[string]int64{}}
	fail := func(format string, args ...any) guestio.Case {
		c.Observed.Result = "error"
		c.Note = fmt.Sprintf(format, args...)
		return c
	}
	mode := "wait"
	if disp == "from-inside" {
		mode = "inside:" + strconv.Itoa(int(sig))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fail("pipe: %v", err)
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe", "-subject", mode)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	if disp != "not-init" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fail("starting the subject: %v", err)
	}
	w.Close()
	br := bufio.NewReader(r)
	line, _ := br.ReadString('\n')
	msg := strings.TrimSpace(line)
	c.Note = msg
	wantPID := "pid=1 "
	if disp == "not-init" {
		wantPID = "pid=" + strconv.Itoa(cmd.Process.Pid) + " "
	}
	// Go leaves a signal that was ignored at start ignored; the case
	// would then measure the ignore, not PID 1.
	if !strings.HasPrefix(msg, wantPID+"ignored=none") {
		cmd.Process.Kill()
		cmd.Wait()
		return fail("subject: want %q..., got %q", wantPID+"ignored=none", msg)
	}
	start := time.Now()
	if disp == "from-inside" {
		l1, _ := br.ReadString('\n')
		l2, _ := br.ReadString('\n')
		switch l1, l2 = strings.TrimSpace(l1), strings.TrimSpace(l2); {
		case l1 != "sending" || (l2 != "" && l2 != "sent"):
			cmd.Process.Kill()
			cmd.Wait()
			return fail("in-namespace kill(1) failed: %q %q", l1, l2)
		case l2 == "":
			c.Note += "; the sender died with its namespace before it could say kill(1) returned"
		}
	} else if err := cmd.Process.Signal(sig); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fail("kill: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		c.Observed.Result = waitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus))
		c.Counters["wait_ms"] = time.Since(start).Milliseconds()
	case <-time.After(survivalWindow):
		c.Observed.Result = "survived"
		c.Counters["wait_ms"] = -1
		cmd.Process.Kill()
		<-done
	}
	return c
}

// Observers of a mount namespace trial, in report order.
var observers = []string{"self", "other-thread", "child", "after-setns", "parent-ns"}

// probeResult says what a stat of path found: "visible", "hidden", or
// "error:ERRNO".
func probeResult(path string) string {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return "visible"
	case errors.Is(err, os.ErrNotExist):
		return "hidden"
	}
	return "error:" + errnoName(err)
}

func errnoName(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		if n := unix.ErrnoName(en); n != "" {
			return n
		}
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// probeExit is the -probe mode's exit status.
func probeExit(path string) int {
	switch probeResult(path) {
	case "visible":
		return 2
	case "hidden":
		return 1
	}
	return 0
}

// runTrial is one mount namespace trial in a fresh process. It prints one
// line, "OBSERVER=RESULT ..." for the first four observers, or "setup=STEP:
// ERR", and returns 0.
func runTrial(locked bool, dir string, load int) int {
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	marker := filepath.Join(dst, "marker")

	// The other-thread observer: locked to its own thread before anything
	// unshares, so that thread stays in the original namespace.
	ask := make(chan struct{})
	answer := make(chan string)
	go func() {
		runtime.LockOSThread()
		answer <- "locked"
		<-ask
		answer <- probeResult(marker)
	}()
	// Wait until it holds its thread: a goroutine not yet started could
	// otherwise lock the thread an unlocked trial has just unshared on.
	<-answer
	if locked {
		runtime.LockOSThread()
	} else {
		for i := 0; i < load; i++ {
			go func() {
				for {
					syscall.Getpid()
					runtime.Gosched()
				}
			}()
		}
	}
	setup := func(step string, err error) int {
		fmt.Printf("setup=%s:%s\n", step, errnoName(err))
		return 0
	}
	orig, err := os.Open("/proc/thread-self/ns/mnt")
	if err != nil {
		return setup("open", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return setup("unshare", err)
	}
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return setup("mount-rprivate", err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return setup("bind-mount", err)
	}
	got := []string{"self=" + probeResult(marker)}
	ask <- struct{}{}
	got = append(got, "other-thread="+<-answer)
	err = exec.Command("/proc/self/exe", "-probe", marker).Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 2:
		got = append(got, "child=visible")
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		got = append(got, "child=hidden")
	default:
		got = append(got, fmt.Sprintf("child=error:%v", err))
	}
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNS); err != nil {
		got = append(got, "after-setns=error:"+errnoName(err))
	} else {
		got = append(got, "after-setns="+probeResult(marker))
	}
	fmt.Println(strings.ReplaceAll(strings.Join(got, " "), "\n", " "))
	return 0
}

// lockedWant is what Linux shows each observer when every call of a trial
// runs on one thread.
var lockedWant = map[string]string{
	"self": "visible", "other-thread": "hidden", "child": "visible", "after-setns": "hidden", "parent-ns": "hidden",
}

// mntnsCases runs the trials of one disposition.
func mntnsCases(disp string, runs, load int) []guestio.Case {
	vis := make([]int64, len(observers))
	hid := make([]int64, len(observers))
	errs := make([]int64, len(observers))
	var setup, wrong int64
	firstErr := make([]string, len(observers))
	note := ""
	base, err := os.MkdirTemp("/tmp", "nsgo-")
	if err != nil {
		note = err.Error()
		setup, runs = int64(runs), 0
	}
	for i := 0; i < runs; i++ {
		dir := filepath.Join(base, strconv.Itoa(i))
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		if err := os.MkdirAll(src, 0o755); err == nil {
			err = os.Mkdir(dst, 0o755)
		}
		if err := os.WriteFile(filepath.Join(src, "marker"), nil, 0o644); err != nil {
			setup++
			note = err.Error()
			continue
		}
		cmd := exec.Command("/proc/self/exe", "-trial", disp, "-dir", dir, "-load", strconv.Itoa(load))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		line := strings.TrimSpace(string(out))
		if err != nil || line == "" || strings.HasPrefix(line, "setup=") {
			setup++
			note = fmt.Sprintf("trial %d: %v %s", i, err, line)
			continue
		}
		got := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			got[k] = v
		}
		got["parent-ns"] = probeResult(filepath.Join(dst, "marker"))
		if got["parent-ns"] == "visible" {
			unix.Unmount(dst, unix.MNT_DETACH)
		}
		for o, name := range observers {
			switch v := got[name]; {
			case v == "visible":
				vis[o]++
			case v == "hidden":
				hid[o]++
			default:
				errs[o]++
				if firstErr[o] == "" {
					firstErr[o] = v
				}
			}
		}
		for k, v := range lockedWant {
			if got[k] != v {
				wrong++
				break
			}
		}
		os.RemoveAll(dir)
	}
	if base != "" {
		os.RemoveAll(base)
	}
	var cases []guestio.Case
	for o, name := range observers {
		n := note
		if firstErr[o] != "" {
			n = strings.TrimSpace(n + " first error: " + firstErr[o])
		}
		c := guestio.Case{Shape: "mntns/go/" + name, Disposition: disp, Note: n, Counters: map[string]int64{
			"runs": int64(runs), "visible": vis[o], "hidden": hid[o], "errors": errs[o],
			"setup_errors": setup, "wrong_runs": wrong,
		}}
		switch {
		case setup > 0 || (disp == "locked" && errs[o] > 0):
			c.Observed.Result = "error"
		case disp == "unlocked":
			c.Observed.Result = "measured"
		case vis[o] == int64(runs):
			c.Observed.Result = "visible"
		case hid[o] == int64(runs):
			c.Observed.Result = "hidden"
		default:
			c.Observed.Result = "mixed"
		}
		cases = append(cases, c)
	}
	return cases
}
