package main

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// gate tells the storm whether the tested thread is inside the blocking
// call: an odd sequence number means "inside". Each entry gets its own
// number, so the storm can tell whether the call it saw asleep is still the
// same call after it sent a signal.
type gate struct{ seq atomic.Uint64 }

// enter is called by the tested thread right before the blocking call.
func (g *gate) enter() { g.seq.Add(1) }

// leave is called by the tested thread right after the call returned.
func (g *gate) leave() { g.seq.Add(1) }

// inside reports the current sequence number and whether it means "inside".
func (g *gate) inside() (uint64, bool) {
	s := g.seq.Load()
	return s, s%2 == 1
}

// pollPause is how long the storm pauses between two looks at a thread
// that is not (yet) asleep in the gated call.
const pollPause = 20 * time.Microsecond

// run is the shared state of one case: counters, stop conditions and the
// first EINTR.
type run struct {
	cfg   *config
	start time.Time
	gate  gate
	stop  atomic.Bool

	rounds      atomic.Int64
	eintr       atomic.Int64
	peerEINTR   atomic.Int64
	wrongBytes  atomic.Int64
	signals     atomic.Int64
	interrupted atomic.Int64

	// phase says what the tested thread is doing, for a hang's note.
	phase atomic.Pointer[string]

	mu            sync.Mutex
	firstWrong    string
	firstEINTR    string
	firstEINTRAt  time.Duration
	sawFirstEINTR bool
}

func newRun(cfg *config) *run { return &run{cfg: cfg, start: time.Now()} }

// setPhase records what the tested thread is about to do.
func (r *run) setPhase(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.phase.Store(&s)
}

// phaseString returns the last phase recorded.
func (r *run) phaseString() string {
	if p := r.phase.Load(); p != nil {
		return *p
	}
	return "not started"
}

// more reports whether the tested thread should start another round.
func (r *run) more() bool {
	if r.stop.Load() {
		return false
	}
	if r.cfg.rounds > 0 && r.rounds.Load() >= r.cfg.rounds {
		return false
	}
	if r.cfg.stopOnEINTR && r.eintr.Load() > 0 {
		return false
	}
	return time.Since(r.start) < r.cfg.duration
}

// sawEINTR records one EINTR returned by call in round round. peer is true
// when the EINTR was seen by the side that the storm does not target.
func (r *run) sawEINTR(call string, round int64, peer bool) {
	if peer {
		r.peerEINTR.Add(1)
	}
	n := r.eintr.Add(1)
	if n != 1 {
		return
	}
	at := time.Since(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sawFirstEINTR = true
	r.firstEINTRAt = at
	r.firstEINTR = fmt.Sprintf("first EINTR: %s = -1 EINTR in round %d, %s after the case started, after %d signals (%d seen interrupting)",
		call, round, at.Round(time.Microsecond), r.signals.Load(), r.interrupted.Load())
}

// sawWrong records n wrong bytes, and describes the first occurrence.
func (r *run) sawWrong(n int64, format string, args ...any) {
	if r.wrongBytes.Add(n) != n {
		return
	}
	d := fmt.Sprintf("first wrong bytes: "+format+", %s after the case started", append(args, time.Since(r.start).Round(time.Microsecond))...)
	r.mu.Lock()
	r.firstWrong = d
	r.mu.Unlock()
}

// storm sends SIGURG to thread tid of this process whenever the thread is
// inside the gated call and asleep, at most once per interval, until stop
// is closed. It returns the first error that makes it give up.
func (r *run) storm(tid int, stop <-chan struct{}) error {
	// A thread of its own, so that nanosleep(2) gives sub-millisecond
	// pauses without holding up other goroutines.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid := unix.Getpid()
	ts, err := openThreadStat(tid)
	if err != nil {
		return err
	}
	defer ts.close()
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		s1, in := r.gate.inside()
		if !in {
			sleep(pollPause)
			continue
		}
		st, err := ts.state()
		if err != nil {
			return fmt.Errorf("reading the state of thread %d: %w", tid, err)
		}
		if st != 'S' && st != 'D' {
			sleep(pollPause)
			continue
		}
		if s2, _ := r.gate.inside(); s2 != s1 {
			continue
		}
		if err := unix.Tgkill(pid, tid, unix.SIGURG); err != nil {
			if errors.Is(err, unix.ESRCH) {
				// The tested thread is gone: its case ended.
				return nil
			}
			return fmt.Errorf("tgkill(%d, %d, SIGURG): %w", pid, tid, err)
		}
		r.signals.Add(1)
		// The signal was queued while the same call was still in progress:
		// it interrupts that call.
		if s3, _ := r.gate.inside(); s3 == s1 {
			r.interrupted.Add(1)
		}
		sleep(r.cfg.interval)
	}
}
