package gvisorpkg

import (
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
)

func a(err error) bool {
	return err == linuxerr.ErrInterrupted // want `use linuxerr.Equals\(linuxerr.ErrInterrupted, err\)`
}

func b(err error) bool {
	return err != linuxerr.EINTR // want `use linuxerr.Equals\(linuxerr.EINTR, err\)`
}

func c(err error) bool {
	return (unix.EINTR) == err // want `identity comparison of err \(type error\) with \(unix.EINTR\) misses other representations of EINTR; use linuxerr.Equals\(linuxerr.EINTR, err\)`
}

func d(err error) int {
	switch err {
	case nil:
		return 0
	case linuxerr.ErrInterrupted: // want `switch case identity comparison of err`
		return 1
	case syscall.EINTR, unix.EAGAIN: // want `switch case identity comparison of err`
		return 2
	}
	return 3
}

func e(err error) bool {
	switch {
	case err == linuxerr.ErrInterrupted: // want `identity comparison`
		return true
	}
	return false
}

// Negatives.

func errno(e unix.Errno) bool { return e == unix.EINTR || e != syscall.EINTR }

func errnoSwitch(e syscall.Errno) bool {
	switch e {
	case unix.EINTR:
		return true
	}
	return false
}

func ptr(e *linuxerr.Error) bool { return e == linuxerr.EINTR }

func fixed(err error) bool { return linuxerr.Equals(linuxerr.EINTR, err) }

func other(err error) bool { return err == linuxerr.EAGAIN }

func generic[T comparable](v T, w T) bool { return v == w }
