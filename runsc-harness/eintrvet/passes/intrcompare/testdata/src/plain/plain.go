package plain

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

func a(err error) bool {
	return err == unix.EINTR // want `identity comparison of err \(type error\) with unix.EINTR misses wrapped errors; use errors.Is\(err, unix.EINTR\)`
}

func b(err error) bool {
	if err != syscall.EINTR { // want `use errors.Is\(err, syscall.EINTR\)`
		return false
	}
	return true
}

func c(v any) bool {
	return v == unix.EINTR // want `identity comparison of v \(type any\)`
}

// Negatives.

func d(err error) bool { return errors.Is(err, unix.EINTR) }

func e() bool {
	_, _, e := syscall.Syscall(0, 0, 0, 0)
	return e == unix.EINTR
}

func bare(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR { // ok: err only ever holds unix.Read's bare Errno
			continue
		}
		switch err {
		case unix.EINTR: // ok
		}
		return n, err
	}
}

func notBare(fd int, b []byte) error {
	_, err := unix.Read(fd, b)
	if err == nil {
		err = wrap(err)
	}
	return errIf(err == unix.EINTR) // want `identity comparison of err`
}

func addrTaken(fd int, b []byte) bool {
	_, err := unix.Read(fd, b)
	set(&err)
	return err == unix.EINTR // want `identity comparison of err`
}

func param(err error) bool {
	return err == unix.EINTR // want `identity comparison of err`
}

func wrap(err error) error { return err }
func set(p *error)         {}
func errIf(b bool) error   { return nil }
