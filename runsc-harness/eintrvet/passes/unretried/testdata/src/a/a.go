package a

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
)

// Positives.

func plainRead(fd int, b []byte) (int, error) {
	n, err := unix.Read(fd, b) // want `EINTR-prone unix.Read is not retried on EINTR`
	if err != nil {
		return 0, err
	}
	return n, nil
}

func discarded(fd int, b []byte) {
	unix.Write(fd, b)           // want `error of EINTR-prone unix.Write is discarded`
	_, _ = unix.Read(fd, b)     // want `error of EINTR-prone unix.Read is discarded`
	defer unix.Flock(fd, 0)     // want `error of EINTR-prone unix.Flock is discarded`
	go syscall.Write(fd, b)     // want `error of EINTR-prone syscall.Write is discarded`
	n, _ := syscall.Read(fd, b) // want `error of EINTR-prone syscall.Read is discarded`
	_ = n
}

func otherErrnoLoop(fd int) error {
	for {
		err := unix.Connect(fd, nil) // want `EINTR-prone unix.Connect is not retried`
		if err != unix.EAGAIN {
			return err
		}
	}
}

func rangeLoop(fds []int, b []byte) {
	for _, fd := range fds {
		if _, err := unix.Write(fd, b); err == nil { // want `not retried`
			continue
		}
	}
}

func blockingLocks(fd int) error {
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil { // want `unix.Flock is not retried`
		return err
	}
	return unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, nil) // ok: returned to caller
}

func setlkw(fd int) {
	if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, nil); err != nil { // want `unix.FcntlFlock is not retried`
		panic(err)
	}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLK, nil); err != nil { // ok: non-blocking
		panic(err)
	}
}

func futexWait(addr uintptr) syscall.Errno {
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, addr, unix.FUTEX_WAIT|unix.FUTEX_PRIVATE_FLAG, 0, 0, 0, 0) // want `EINTR-prone unix.Syscall6\(SYS_FUTEX\)`
	if e != 0 {
		return e
	}
	return 0
}

func rawRead(fd int) {
	_, _, _ = syscall.Syscall(uintptr(syscall.SYS_READ), uintptr(fd), 0, 0) // want `error of EINTR-prone syscall.Syscall\(SYS_READ\) is discarded`
}

func fifo(path string) (int, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return -1, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) // want `EINTR-prone unix.Open is not retried`
	if err != nil {
		return -1, err
	}
	nb, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0) // ok: O_NONBLOCK never blocks
	_ = nb
	return fd, err
}

// Negatives.

func retryContinue(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

func retryUntil(fd int, b []byte) (n int, err error) {
	for {
		n, err = unix.Write(fd, b)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	return n, err
}

func retryCond(pid int) error {
	err := error(unix.EINTR)
	for err == unix.EINTR {
		_, err = unix.Wait4(pid, nil, 0, nil)
	}
	return err
}

func retryGvisor(fd int) (int, error) {
	for {
		nfd, _, err := unix.Accept4(fd, 0)
		if linuxerr.Equals(linuxerr.EINTR, err) {
			continue
		}
		return nfd, err
	}
}

func retryGoto(fd int) error {
again:
	err := unix.Flock(fd, unix.LOCK_EX)
	switch err {
	case unix.EINTR:
		goto again
	}
	return err
}

func handledFutex(addr uintptr) {
	_, _, e := unix.Syscall(unix.SYS_FUTEX, addr, unix.FUTEX_WAIT, 0)
	if e != 0 && e != unix.EAGAIN && e != unix.EINTR {
		panic(e)
	}
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

func helper(fd int) error {
	return ignoringEINTR(func() error { return unix.Flock(fd, unix.LOCK_EX) })
}

func wrapper(fd int, b []byte) (int, error) { return unix.Read(fd, b) }

func nonBlocking(fd int) error {
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return err
	}
	return nil
}

func futexWake(addr uintptr) {
	unix.Syscall(unix.SYS_FUTEX, addr, unix.FUTEX_WAKE, 1)
}

func notListed(fd int, b []byte) {
	unix.Pread(fd, b, 0)
	unix.Syscall(unix.SYS_GETPID, 0, 0, 0)
}

func openNoFIFO(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY, 0) // ok: function creates no FIFO
	if err != nil {
		return -1, err
	}
	return fd, nil
}

func reap() {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil) // ok: WNOHANG never blocks
		if err != nil || pid <= 0 {
			return
		}
	}
}

func waitChild(pid int) error {
	_, err := unix.Wait4(pid, nil, 0, nil) // want `unix.Wait4 is not retried`
	return err
}

// Suppressed by eintrvet:ignore directives (internal/ignore).

func suppressed(fd int, b []byte) {
	//eintrvet:ignore unretried deliberate: the caller must see EINTR
	unix.Read(fd, b)
	unix.Write(fd, b) //eintrvet:ignore threadns,unretried best effort, 1 byte to a pipe
	//eintrvet:ignore intrcompare another pass's directive does not suppress this
	unix.Write(fd, b) // want `error of EINTR-prone unix.Write is discarded`
	//eintrvet:ignore unretried nothing to suppress here // want `no unretried finding on the line it covers`

	_ = fd
}
