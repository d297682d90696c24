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
