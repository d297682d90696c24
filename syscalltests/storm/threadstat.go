package main

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/syscalltests/internal/blocked"
)

// threadStat reads the scheduler state of one thread of this process like
// blocked.State does, but keeps /proc/self/task/TID/stat open and re-reads
// it with pread(2) at offset 0 (which regenerates it, on Linux and in
// gVisor alike). That is one system call per look instead of five; in
// gVisor, where every system call of the storm thread costs Sentry time,
// it lets the storm look several times per blocked call.
type threadStat struct {
	tid int
	fd  int
	buf [1024]byte
}

// openThreadStat opens the stat file of thread tid and checks that its
// state agrees in format with blocked.State.
func openThreadStat(tid int) (*threadStat, error) {
	path := fmt.Sprintf("/proc/self/task/%d/stat", tid)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	ts := &threadStat{tid: tid, fd: fd}
	if _, err := ts.state(); err != nil {
		ts.close()
		return nil, err
	}
	if _, err := blocked.State(tid); err != nil {
		ts.close()
		return nil, err
	}
	return ts, nil
}

// state returns the thread's one-letter state ('R', 'S', 'D', ...).
func (ts *threadStat) state() (byte, error) {
	for {
		n, err := unix.Pread(ts.fd, ts.buf[:], 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("reading the stat of thread %d: %w", ts.tid, err)
		}
		return parseState(ts.buf[:n])
	}
}

func (ts *threadStat) close() { unix.Close(ts.fd) }

// parseState extracts the state letter from the text of a
// /proc/PID/task/TID/stat file. The command name is in parentheses and may
// itself hold spaces and parentheses: the state follows the last ')'.
func parseState(b []byte) (byte, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) || b[i+1] != ' ' {
		return 0, fmt.Errorf("malformed thread stat %q", b)
	}
	return b[i+2], nil
}
