package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Environment variables that turn this binary into the sync-socket writer
// child (see childMain).
const (
	envChild      = "STORM_CHILD"
	envChildDelay = "STORM_CHILD_DELAY_NS"
	childSyncFD   = 3
)

// Acknowledgement bytes sent by the reader after each packet.
const (
	ackMore byte = 1
	ackStop byte = 0
)

// syncSocket is runc's parent/child sync socket: the parent (this process)
// reads packets that a child process writes over an AF_UNIX SOCK_SEQPACKET
// socketpair. The writer is a separate process, as runc's "runc init" is:
// the packet then crosses two processes in the kernel (or the Sentry) the
// way runc's does, and the writer's sleeps and wakeups do not share a Go
// scheduler with the reader, so the reader's process holds only the
// reader, the storm and an idle main goroutine.
type syncSocket struct {
	cfg *config
	fd  int
	cmd *exec.Cmd
}

func newSyncSocket(cfg *config) (*syncSocket, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair(AF_UNIX, SOCK_SEQPACKET): %w", err)
	}
	// The fds are blocking; os.NewFile keeps them so (it only uses the
	// poller for fds that are already non-blocking).
	child := os.NewFile(uintptr(fds[1]), "sync-socket-child")
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), envChild+"=sync-writer", envChildDelay+"="+strconv.FormatInt(int64(cfg.delay), 10))
	cmd.ExtraFiles = []*os.File{child} // becomes fd 3 (childSyncFD)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		child.Close()
		unix.Close(fds[0])
		return nil, fmt.Errorf("starting the writer child: %w", err)
	}
	child.Close()
	return &syncSocket{cfg: cfg, fd: fds[0], cmd: cmd}, nil
}

func (s *syncSocket) shape() string { return "recvfrom/unix-seqpacket/peek-trunc" }

func (s *syncSocket) peekCall() string {
	if s.cfg.peek == peekXSys {
		return fmt.Sprintf("unix.Recvfrom(%d, nil, MSG_PEEK|MSG_TRUNC)", s.fd)
	}
	return fmt.Sprintf("recvfrom(%d, NULL, 0, MSG_PEEK|MSG_TRUNC, NULL, NULL)", s.fd)
}

// peekLen returns the length of the next packet without consuming it.
func (s *syncSocket) peekLen() (int, error) {
	const flags = unix.MSG_PEEK | unix.MSG_TRUNC
	if s.cfg.peek == peekXSys {
		n, _, err := unix.Recvfrom(s.fd, nil, flags) //eintrvet:ignore unretried the storm counts every EINTR, as runc's probe would fail on it
		return n, err
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, flags, 0, 0) //eintrvet:ignore unretried the storm counts every EINTR, as runc's probe would fail on it
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// errPeerGone is returned when the other side closed its end early.
var errPeerGone = errors.New("peer closed its end")

// serve is the reader: it runs on its own locked thread, sends that
// thread's id on tidc, then reads packets until the run says stop.
func (s *syncSocket) serve(r *run, tidc chan<- int) error {
	// Never unlocked: the thread exits with this goroutine, so no other
	// goroutine inherits a thread that the storm signalled.
	runtime.LockOSThread()
	tidc <- unix.Gettid()
	for round := int64(0); ; round++ {
		var n int
		var err error
		r.setPhase("round %d: %s", round, s.peekCall())
		for {
			r.gate.enter()
			n, err = s.peekLen()
			r.gate.leave()
			if !errors.Is(err, unix.EINTR) {
				break
			}
			r.sawEINTR(s.peekCall(), round, false)
			if r.cfg.stopOnEINTR || r.stop.Load() {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("%s in round %d: %w", s.peekCall(), round, err)
		}
		if n == 0 {
			return fmt.Errorf("round %d: %w", round, errPeerGone)
		}
		r.setPhase("round %d: read of %d bytes", round, n)
		buf := make([]byte, n)
		var m int
		for {
			m, err = unix.Read(s.fd, buf)
			if !errors.Is(err, unix.EINTR) {
				break
			}
			r.sawEINTR(fmt.Sprintf("read(%d, buf, %d)", s.fd, n), round, false)
		}
		if err != nil {
			return fmt.Errorf("read(%d, buf, %d) in round %d: %w", s.fd, n, round, err)
		}
		if bad := wrongBytes(buf[:m], packet(round)); bad > 0 {
			r.sawWrong(bad, "round %d: packet of %d bytes (peeked length %d) has %d wrong bytes", round, m, n, bad)
		}
		r.rounds.Add(1)
		more := r.more()
		ack := []byte{ackStop}
		if more {
			ack[0] = ackMore
		}
		r.setPhase("round %d: ack", round)
		if _, err := unix.Write(s.fd, ack); err != nil {
			return fmt.Errorf("writing the ack of round %d: %w", round, err)
		}
		if !more {
			return nil
		}
	}
}

// unblock kills the writer, which makes a reader stuck in recvfrom see
// end of file.
func (s *syncSocket) unblock() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
}

// close closes the reader's end and reaps the child, killing it if it does
// not leave within grace.
func (s *syncSocket) close(grace time.Duration) error {
	unix.Close(s.fd)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-done
		return fmt.Errorf("the writer child did not exit within %s", grace)
	}
}

// sleep sleeps for d with nanosleep(2) on the calling thread, finishing the
// remaining time if a signal interrupts it. It is finer-grained than
// time.Sleep for sub-millisecond delays.
func sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	for {
		var rem unix.Timespec
		err := unix.Nanosleep(&ts, &rem)
		if !errors.Is(err, unix.EINTR) {
			return
		}
		ts = rem
	}
}

// childMain is the sync-socket writer, run as a child process: for each
// round it sleeps, sends packet(round) on fd 3 and waits for the parent's
// acknowledgement. It returns the process exit status.
func childMain() int {
	runtime.LockOSThread()
	ns, err := strconv.ParseInt(os.Getenv(envChildDelay), 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "storm writer child: bad %s: %v\n", envChildDelay, err)
		return 2
	}
	delay := time.Duration(ns)
	fd := childSyncFD
	var ack [1]byte
	for round := int64(0); ; round++ {
		sleep(delay)
		p := packet(round)
		for {
			_, err = unix.Write(fd, p)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			return 0 // the parent is gone: it decided to stop
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "storm writer child: write of packet %d: %v\n", round, err)
			return 1
		}
		var n int
		for {
			n, err = unix.Read(fd, ack[:])
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if errors.Is(err, unix.ECONNRESET) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "storm writer child: read of ack %d: %v\n", round, err)
			return 1
		}
		if n == 0 || ack[0] == ackStop {
			return 0
		}
	}
}
