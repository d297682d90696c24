// Package unix is a minimal stub of golang.org/x/sys/unix for analysistest.
package unix

import "syscall"

type Errno = syscall.Errno

const (
	EINTR  = syscall.Errno(0x4)
	EAGAIN = syscall.Errno(0xb)

	LOCK_EX = 0x2
	WNOHANG = 0x1
	LOCK_NB = 0x4

	F_SETLK  = 0x6
	F_SETLKW = 0x7

	O_RDONLY   = 0x0
	O_NONBLOCK = 0x800
	O_CLOEXEC  = 0x80000

	SYS_READ   = 0
	SYS_GETPID = 39
	SYS_FUTEX  = 202

	FUTEX_WAIT         = 0
	FUTEX_WAKE         = 1
	FUTEX_PRIVATE_FLAG = 128
)

type Flock_t struct{}

func Read(fd int, p []byte) (n int, err error)                    { return 0, nil }
func Write(fd int, p []byte) (n int, err error)                   { return 0, nil }
func Accept4(fd int, flags int) (nfd int, sa any, err error)      { return 0, nil, nil }
func Connect(fd int, sa any) (err error)                          { return nil }
func Wait4(pid int, ws *int, options int, r any) (int, error)     { return 0, nil }
func Flock(fd int, how int) (err error)                           { return nil }
func FcntlFlock(fd uintptr, cmd int, lk *Flock_t) error           { return nil }
func Open(path string, mode int, perm uint32) (fd int, err error) { return 0, nil }
func Mkfifo(path string, mode uint32) (err error)                 { return nil }
func Pread(fd int, p []byte, offset int64) (n int, err error)     { return 0, nil }

func Syscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err Errno)              { return 0, 0, 0 }
func Syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) { return 0, 0, 0 }
