package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ackWait is how long the peer waits for the tested thread to finish a
// round after the peer's half of the handshake succeeded, before it checks
// whether the tested thread went back to open(2) (after an interruption
// that undid its open) and, if so, offers itself again.
const ackWait = 100 * time.Millisecond

// retryPause spaces out the peer's non-blocking retries.
const retryPause = 50 * time.Microsecond

// errQuit is returned by the peer when the case is torn down.
var errQuit = errors.New("case torn down")

// execFIFO is runc's exec FIFO handshake: one side opens a FIFO and blocks
// in open(2) until the other side opens the other end, then one byte goes
// from the writer to the reader and both close. The storm targets the
// thread blocked in open(2); the peer opens after a delay.
type execFIFO struct {
	cfg  *config
	dir  string
	path string
	// writerBlocked: the tested thread opens O_WRONLY and waits for a
	// reader (runc init's side); otherwise it opens O_RDONLY and waits
	// for a writer.
	writerBlocked bool

	ackc    chan int64
	quit    chan struct{}
	peerEnd chan error
	retries atomic.Int64
	// eofs counts handshakes whose reader saw end of file instead of the
	// byte; mismatches counts handshakes that delivered another byte.
	eofs, mismatches atomic.Int64
	rdwr             int
	// peerPhase says what the peer is doing, for a hang's note.
	peerPhase atomic.Pointer[string]
}

func newExecFIFO(cfg *config, writerBlocked bool) (*execFIFO, error) {
	dir, err := os.MkdirTemp(cfg.dir, "storm-fifo-")
	if err != nil {
		return nil, fmt.Errorf("making the FIFO directory: %w", err)
	}
	path := filepath.Join(dir, "exec.fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mkfifo %s: %w", path, err)
	}
	return &execFIFO{
		cfg:           cfg,
		dir:           dir,
		path:          path,
		writerBlocked: writerBlocked,
		ackc:          make(chan int64, 1),
		quit:          make(chan struct{}),
		peerEnd:       make(chan error, 1),
		rdwr:          -1,
	}, nil
}

func (f *execFIFO) setPeerPhase(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	f.peerPhase.Store(&s)
}

// peerState describes what the peer was last doing.
func (f *execFIFO) peerState() string {
	if p := f.peerPhase.Load(); p != nil {
		return *p
	}
	return "not started"
}

func (f *execFIFO) shape() string {
	if f.writerBlocked {
		return "open/fifo/wronly-waits-for-reader"
	}
	return "open/fifo/rdonly-waits-for-writer"
}

func (f *execFIFO) flags(tested bool) (int, string) {
	if tested == f.writerBlocked {
		return unix.O_WRONLY | unix.O_CLOEXEC, "O_WRONLY|O_CLOEXEC"
	}
	return unix.O_RDONLY | unix.O_CLOEXEC, "O_RDONLY|O_CLOEXEC"
}

// serve is the tested side: it runs on its own locked thread, sends the
// thread's id on tidc, then does handshakes until the run says stop.
func (f *execFIFO) serve(r *run, tidc chan<- int) error {
	runtime.LockOSThread() // never unlocked, see syncSocket.serve
	tidc <- unix.Gettid()
	startc := make(chan int64)
	go func() { f.peerEnd <- f.peer(r, startc) }()
	defer close(startc)
	flags, flagNames := f.flags(true)
	call := fmt.Sprintf("open(%q, %s)", f.path, flagNames)
	for round := int64(0); r.more(); round++ {
		select {
		case startc <- round:
		case err := <-f.peerEnd:
			return fmt.Errorf("peer: %w", err)
		}
		counted := false
		for done := false; !done; {
			var fd int
			var err error
			r.setPhase("round %d: %s", round, call)
			for {
				r.gate.enter()
				fd, err = unix.Open(f.path, flags, 0)
				r.gate.leave()
				if !errors.Is(err, unix.EINTR) {
					break
				}
				r.sawEINTR(call, round, false)
				if r.cfg.stopOnEINTR || r.stop.Load() {
					return nil
				}
			}
			if err != nil {
				return fmt.Errorf("%s in round %d: %w", call, round, err)
			}
			if f.writerBlocked {
				r.setPhase("round %d: handshake write", round)
				err = writeByte(r, fd, handshakeByte(round), round, false)
				unix.Close(fd)
				if errors.Is(err, unix.EPIPE) {
					// The reader left: its open was undone. Offer again.
					f.retries.Add(1)
					continue
				}
				if err != nil {
					return fmt.Errorf("handshake write in round %d: %w", round, err)
				}
				done = true
				continue
			}
			r.setPhase("round %d: handshake read", round)
			b, n, err := readByte(r, fd, round, false)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("handshake read in round %d: %w", round, err)
			}
			if n == 0 {
				// End of file instead of the byte: the writer left.
				if !counted {
					f.eofs.Add(1)
					r.sawWrong(1, "round %d: the tested reader read end of file instead of byte %#x", round, handshakeByte(round))
					counted = true
				}
				f.retries.Add(1)
				continue
			}
			if b != handshakeByte(round) && !counted {
				f.mismatches.Add(1)
				r.sawWrong(1, "round %d: the tested reader read byte %#x instead of %#x", round, b, handshakeByte(round))
			}
			done = true
		}
		r.setPhase("round %d: done", round)
		f.ackc <- round
		r.rounds.Add(1)
	}
	return nil
}

func writeByte(r *run, fd int, b byte, round int64, peer bool) error {
	for {
		_, err := unix.Write(fd, []byte{b})
		if !errors.Is(err, unix.EINTR) {
			return err
		}
		r.sawEINTR(fmt.Sprintf("write(%d, 1 byte) on the FIFO", fd), round, peer)
	}
}

func readByte(r *run, fd int, round int64, peer bool) (byte, int, error) {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if !errors.Is(err, unix.EINTR) {
			return b[0], n, err
		}
		r.sawEINTR(fmt.Sprintf("read(%d, 1 byte) on the FIFO", fd), round, peer)
	}
}

// peer is the other side: for each round it waits -delay, so that the
// tested thread is asleep in open(2), then opens its end and does its half
// of the handshake.
func (f *execFIFO) peer(r *run, startc <-chan int64) error {
	runtime.LockOSThread()
	for round := range startc {
		f.setPeerPhase("round %d: delay", round)
		sleep(r.cfg.delay)
		if err := f.peerRound(r, round); err != nil {
			return err
		}
	}
	return nil
}

func (f *execFIFO) peerRound(r *run, round int64) error {
	flags, flagNames := f.flags(false)
	counted := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// Offer again only while the tested thread is back in open(2):
			// otherwise it is finishing the round, and an extra open
			// would leave an extra byte or an extra end behind.
			f.setPeerPhase("round %d attempt %d: waiting for the tested thread to be in open or to ack", round, attempt)
			sleep(retryPause)
			for {
				select {
				case <-f.ackc:
					return nil
				case <-f.quit:
					return errQuit
				default:
				}
				if _, in := r.gate.inside(); in {
					break
				}
				sleep(retryPause)
			}
		}
		var fd int
		var err error
		f.setPeerPhase("round %d attempt %d: open(%s)", round, attempt, flagNames)
		if attempt == 0 {
			// The first open is a plain blocking one, as runc's is.
			for {
				fd, err = unix.Open(f.path, flags, 0)
				if !errors.Is(err, unix.EINTR) {
					break
				}
				r.sawEINTR(fmt.Sprintf("peer open(%q, %s)", f.path, flagNames), round, true)
			}
		} else {
			// Retries never block: the tested thread may already be done.
			fd, err = unix.Open(f.path, flags|unix.O_NONBLOCK, 0)
			if errors.Is(err, unix.ENXIO) {
				continue // no reader yet for our write end
			}
			if err == nil {
				err = unix.SetNonblock(fd, false)
			}
		}
		if err != nil {
			return fmt.Errorf("peer open(%q, %s) in round %d: %w", f.path, flagNames, round, err)
		}
		ok := true
		f.setPeerPhase("round %d attempt %d: handshake", round, attempt)
		if f.writerBlocked {
			b, n, err := readByte(r, fd, round, true)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("peer handshake read in round %d: %w", round, err)
			}
			switch {
			case n == 0:
				// End of file: the tested writer's open was undone.
				if attempt == 0 && !counted {
					f.eofs.Add(1)
					r.sawWrong(1, "round %d: the peer reader read end of file instead of byte %#x", round, handshakeByte(round))
					counted = true
				}
				ok = false
			case b != handshakeByte(round) && !counted:
				f.mismatches.Add(1)
				r.sawWrong(1, "round %d: the peer reader read byte %#x instead of %#x", round, b, handshakeByte(round))
				counted = true
			}
		} else {
			err := writeByte(r, fd, handshakeByte(round), round, true)
			unix.Close(fd)
			if errors.Is(err, unix.EPIPE) {
				ok = false
			} else if err != nil {
				return fmt.Errorf("peer handshake write in round %d: %w", round, err)
			}
		}
		if !ok {
			f.retries.Add(1)
			continue
		}
		f.setPeerPhase("round %d attempt %d: waiting for the ack", round, attempt)
		select {
		case <-f.ackc:
			return nil
		case <-f.quit:
			return errQuit
		case <-time.After(ackWait):
			f.retries.Add(1)
		}
	}
}

// unblock releases a thread stuck in open(2) of the FIFO by opening it
// read-write, which counts as both a reader and a writer.
func (f *execFIFO) unblock() {
	if f.rdwr >= 0 {
		return
	}
	fd, err := unix.Open(f.path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		f.rdwr = fd
	}
}

// close stops the peer, waits up to grace for it and removes the FIFO.
func (f *execFIFO) close(grace time.Duration) error {
	close(f.quit)
	f.unblock()
	var err error
	select {
	case perr := <-f.peerEnd:
		if perr != nil && !errors.Is(perr, errQuit) {
			err = perr
		}
	case <-time.After(grace):
		// A peer stuck in a system call is left behind; the process
		// exits soon and the FIFO is removed below.
	}
	if f.rdwr >= 0 {
		unix.Close(f.rdwr)
	}
	if rerr := os.RemoveAll(f.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
