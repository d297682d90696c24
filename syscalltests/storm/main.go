// Command storm is the bootstrap-storm guest: it reproduces the two
// blocking handshakes that runc does while it sets a container up, and
// interrupts the blocked thread with a storm of SIGURG (the signal that the
// Go runtime uses for preemption, and whose handler is installed with
// SA_RESTART), so that on Linux every interrupted call is restarted and
// the program never sees EINTR.
//
// Variants:
//
//   - sync-socket: runc's sync socket. A child process writes packets on
//     an AF_UNIX SOCK_SEQPACKET socketpair; the parent's reader thread
//     probes each packet's length with recvfrom(fd, NULL, 0,
//     MSG_PEEK|MSG_TRUNC) on a blocking fd, then reads it and checks it
//     byte for byte.
//   - exec-fifo: runc's exec FIFO. One side blocks in open(2) of a FIFO
//     until the other side opens the other end, then one byte is passed.
//     Both directions are cases: the writer waiting for a reader (runc
//     init's side) and the reader waiting for a writer.
//
// It prints one guestio.Report as JSON on standard output, diagnostics on
// standard error. Exit status: 0 when it ran (whatever it observed), 1
// with -strict when any EINTR, wrong byte, hang or unexpected error was
// seen, 2 on a usage or setup error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// variant is one way of blocking a thread.
type variant interface {
	// shape names the blocking call for guestio.Case.Shape.
	shape() string
	// serve runs the tested side on its own locked thread: it sends that
	// thread's id on tidc first, then does rounds while r.more().
	serve(r *run, tidc chan<- int) error
	// unblock makes a tested thread stuck in its call return.
	unblock()
	// close releases the variant's resources, waiting up to grace for
	// helpers to leave.
	close(grace time.Duration) error
}

// grace bounds every wait during a case's teardown.
const grace = 2 * time.Second

func main() {
	if os.Getenv(envChild) == "sync-writer" {
		os.Exit(childMain())
	}
	os.Exit(mainStatus(os.Args[1:], os.Stdout, os.Stderr))
}

// mainStatus runs the program and returns its exit status.
func mainStatus(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "storm: %v\n", err)
		}
		return 2
	}
	rep, err := runAll(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "storm: setup failed: %v\n", err)
		return 2
	}
	if err := guestio.Write(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "storm: writing the report: %v\n", err)
		return 2
	}
	if cfg.strict {
		if bad := badCases(rep); len(bad) > 0 {
			fmt.Fprintf(stderr, "storm: -strict: %d case(s) not ok: %v\n", len(bad), bad)
			return 1
		}
	}
	return 0
}

// badCases lists the cases whose result is not "ok", as "shape: result".
func badCases(rep *guestio.Report) []string {
	var bad []string
	for _, c := range rep.Cases {
		if c.Observed.Result != "ok" {
			bad = append(bad, c.Shape+": "+c.Observed.Result)
		}
	}
	return bad
}

// caseSpec is one case to run: how to set its variant up.
type caseSpec struct {
	shape string
	setup func(*config) (variant, error)
}

func specsFor(cfg *config) []caseSpec {
	var specs []caseSpec
	for _, v := range cfg.variants {
		switch v {
		case variantSyncSocket:
			specs = append(specs, caseSpec{"recvfrom/unix-seqpacket/peek-trunc", func(c *config) (variant, error) { return newSyncSocket(c) }})
		case variantExecFIFO:
			specs = append(specs,
				caseSpec{"open/fifo/wronly-waits-for-reader", func(c *config) (variant, error) { return newExecFIFO(c, true) }},
				caseSpec{"open/fifo/rdonly-waits-for-writer", func(c *config) (variant, error) { return newExecFIFO(c, false) }},
			)
		}
	}
	return specs
}

// runAll runs the cases in order under the overall -timeout. A setup error
// is returned as an error; anything observed goes into the report.
func runAll(cfg *config, stderr io.Writer) (*guestio.Report, error) {
	deadline := time.Now().Add(cfg.timeout)
	rep := &guestio.Report{Program: "storm"}
	for _, s := range specsFor(cfg) {
		for trial := 1; trial <= cfg.trials; trial++ {
			c, err := runTrial(cfg, s, deadline, stderr)
			if err != nil {
				return nil, err
			}
			// With -trials, every trial is a case of its own, numbered.
			if cfg.trials > 1 {
				if c.Counters == nil {
					c.Counters = map[string]int64{}
				}
				c.Counters["trial"] = int64(trial)
			}
			rep.Cases = append(rep.Cases, c)
		}
	}
	return rep, nil
}

// caseHangAfter is how long past its -duration a case may run before it is
// reported as a hang.
const caseHangAfter = 10 * time.Second

// runTrial sets up and runs one case of spec s, or reports it as a hang
// without starting it when deadline has passed.
func runTrial(cfg *config, s caseSpec, deadline time.Time, stderr io.Writer) (guestio.Case, error) {
	if time.Until(deadline) <= 0 {
		return guestio.Case{
			Shape:       s.shape,
			Disposition: "restart",
			Observed:    guestio.Observed{Result: "hang"},
			Note:        "not started: the -timeout deadline had passed",
		}, nil
	}
	v, err := s.setup(cfg)
	if err != nil {
		return guestio.Case{}, fmt.Errorf("%s: %w", s.shape, err)
	}
	// A case ends at -duration; one still running caseHangAfter later is
	// stuck, and is ended there so that it does not eat the time of the
	// cases after it.
	if d := time.Now().Add(cfg.duration + caseHangAfter); d.Before(deadline) {
		deadline = d
	}
	c := runCase(cfg, v, deadline)
	fmt.Fprintf(stderr, "storm: %s: %s rounds=%d signals=%d interrupted=%d eintr=%d wrong_bytes=%d elapsed=%dms\n",
		c.Shape, c.Observed.Result, c.Counters["rounds"], c.Counters["signals"], c.Counters["interrupted"],
		c.Counters["eintr"], c.Counters["wrong_bytes"], c.Counters["elapsed_ms"])
	if c.Note != "" {
		fmt.Fprintf(stderr, "storm: %s: %s\n", c.Shape, c.Note)
	}
	return c, nil
}

// runCase runs one variant with the storm until it ends or deadline.
func runCase(cfg *config, v variant, deadline time.Time) guestio.Case {
	r := newRun(cfg)
	tidc := make(chan int, 1)
	served := make(chan error, 1)
	go func() { served <- v.serve(r, tidc) }()

	var notes []string
	stopStorm := make(chan struct{})
	stormDone := make(chan error, 1)
	var serveErr error
	finished := false
	select {
	case tid := <-tidc:
		go func() { stormDone <- r.storm(tid, stopStorm) }()
	case serveErr = <-served:
		finished = true
		stormDone <- nil
	}

	hang := false
	if !finished {
		timer := time.NewTimer(time.Until(deadline))
		select {
		case serveErr = <-served:
		case <-timer.C:
			hang = true
			notes = append(notes, hangNote(r, v))
			r.stop.Store(true)
			v.unblock()
			select {
			case serveErr = <-served:
			case <-time.After(grace):
				notes = append(notes, "the tested thread did not return after unblocking")
			}
		}
		timer.Stop()
	}
	elapsed := time.Since(r.start)
	close(stopStorm)
	if err := <-stormDone; err != nil {
		notes = append(notes, "storm: "+err.Error())
	}
	if err := v.close(grace); err != nil && !hang {
		notes = append(notes, "teardown: "+err.Error())
	}

	c := guestio.Case{
		Shape:       v.shape(),
		Disposition: "restart",
		Counters: map[string]int64{
			"rounds":      r.rounds.Load(),
			"signals":     r.signals.Load(),
			"interrupted": r.interrupted.Load(),
			"eintr":       r.eintr.Load(),
			"wrong_bytes": r.wrongBytes.Load(),
			"elapsed_ms":  elapsed.Milliseconds(),
		},
	}
	if n := r.peerEINTR.Load(); n > 0 {
		c.Counters["peer_eintr"] = n
	}
	if f, ok := v.(*execFIFO); ok {
		c.Counters["handshake_retries"] = f.retries.Load()
		c.Counters["handshake_eof"] = f.eofs.Load()
		c.Counters["handshake_mismatch"] = f.mismatches.Load()
	}
	r.mu.Lock()
	if r.sawFirstEINTR {
		c.Counters["first_eintr_us"] = r.firstEINTRAt.Microseconds()
		notes = append([]string{r.firstEINTR}, notes...)
	}
	if r.firstWrong != "" {
		notes = append(notes, r.firstWrong)
	}
	r.mu.Unlock()
	if hang {
		notes = append(notes, fmt.Sprintf("hang: the case had not finished %s after its -duration (%s), or at the -timeout deadline (%s)", caseHangAfter, cfg.duration, cfg.timeout))
	}
	if serveErr != nil && !(hang && errors.Is(serveErr, errPeerGone)) {
		notes = append(notes, "error: "+serveErr.Error())
	}
	c.Observed = guestio.Observed{
		Result:     result(hang, c.Counters["eintr"], c.Counters["wrong_bytes"], serveErr),
		HandlerRan: c.Counters["interrupted"] > 0,
	}
	for i, n := range notes {
		if i > 0 {
			c.Note += "; "
		}
		c.Note += n
	}
	return c
}

// hangNote describes where a case was stuck when its deadline passed.
func hangNote(r *run, v variant) string {
	s := "stuck: tested thread in " + r.phaseString()
	if seq, in := r.gate.inside(); in {
		s += fmt.Sprintf(" (inside the gated call, entry %d)", seq/2)
	}
	if p, ok := v.(interface{ peerState() string }); ok {
		s += "; peer in " + p.peerState()
	}
	return s
}

// result is the Observed.Result of a case: "hang" when it did not finish,
// else "EINTR" when any call returned EINTR, else "wrong_bytes" when any
// byte differed, else the errno name of an unexpected error (or "error"),
// else "ok".
func result(hang bool, eintr, wrong int64, err error) string {
	switch {
	case hang:
		return "hang"
	case eintr > 0:
		return "EINTR"
	case wrong > 0:
		return "wrong_bytes"
	case err != nil:
		var errno unix.Errno
		if errors.As(err, &errno) {
			if name := unix.ErrnoName(errno); name != "" {
				return name
			}
		}
		return "error"
	}
	return "ok"
}
