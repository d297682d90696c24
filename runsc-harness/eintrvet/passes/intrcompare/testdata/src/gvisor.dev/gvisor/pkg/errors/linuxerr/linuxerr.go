// Package linuxerr is a stub of gVisor's linuxerr with the real Equals and
// the pre-2026-05-27 ConvertIntr.
package linuxerr

import "golang.org/x/sys/unix"

type Error struct{ errno unix.Errno }

func (e *Error) Error() string     { return "e" }
func (e *Error) Errno() unix.Errno { return e.errno }
func New(n unix.Errno) *Error      { return &Error{n} }

var (
	noError        *Error = nil
	EINTR                 = New(unix.EINTR)
	EAGAIN                = New(unix.EAGAIN)
	ErrInterrupted        = New(unix.EINTR)
	ERESTARTSYS           = New(512)
)

// Equals is gVisor's real implementation: not reported.
func Equals(e *Error, err error) bool {
	var unixErr unix.Errno
	if e != noError {
		unixErr = unix.Errno(e.Errno())
	}
	if err == nil {
		err = noError
	}
	return e == err || unixErr == err
}

// ConvertIntr is the buggy version (gVisor 2024-04-23 .. 2026-05-18).
func ConvertIntr(err, intr error) error {
	if err == ErrInterrupted { // want `identity comparison of err \(type error\) with ErrInterrupted misses other representations of EINTR; use Equals\(ErrInterrupted, err\)`
		return intr
	}
	return err
}

// ConvertIntrFixed is the fixed version: not reported.
func ConvertIntrFixed(err, intr error) error {
	if Equals(ErrInterrupted, err) {
		return intr
	}
	return err
}

// IsEINTRPtr compares two *Error values: concrete, not reported.
func IsEINTRPtr(e *Error) bool { return e == EINTR }

func shadowed(err error) bool {
	Equals := func(a, b error) bool { return a == b }
	return err == EINTR && Equals(err, nil) // want `identity comparison of err \(type error\) with EINTR misses wrapped errors; use errors.Is\(err, EINTR\)`
}
