// Package unix is a minimal stub of golang.org/x/sys/unix for analysistest.
package unix

import "syscall"

type Errno = syscall.Errno

const (
	CLONE_NEWNS  = 0x20000
	CLONE_NEWUTS = 0x4000
	CLONE_NEWNET = 0x40000000
	MS_PRIVATE   = 0x40000
	MS_REC       = 0x4000
	SYS_UNSHARE  = 272
	SYS_SETNS    = 308
	SYS_GETPID   = 39
)

func Unshare(flags int) error                                               { return nil }
func Setns(fd int, nstype int) error                                        { return nil }
func Mount(source, target, fstype string, flags uintptr, data string) error { return nil }
func RawSyscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err Errno)       { return 0, 0, 0 }
