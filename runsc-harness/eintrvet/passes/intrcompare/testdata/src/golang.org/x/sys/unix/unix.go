// Package unix is a minimal stub of golang.org/x/sys/unix for analysistest.
package unix

import "syscall"

type Errno = syscall.Errno

const (
	EINTR  = syscall.Errno(0x4)
	EAGAIN = syscall.Errno(0xb)
)

func Read(fd int, p []byte) (n int, err error) { return 0, nil }
