package a

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Positives.

func noLock() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil { // want `unix.Unshare changes only the calling thread's namespaces`
		return err
	}
	return unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "") // want `unix.Mount after unshare\(CLONE_NEWNS\) without runtime.LockOSThread`
}

func setnsNoLock(fd int) error {
	return unix.Setns(fd, 0) // want `unix.Setns changes only`
}

func lockAfter() error {
	err := syscall.Unshare(syscall.CLONE_NEWUTS) // want `syscall.Unshare changes only`
	runtime.LockOSThread()
	return err
}

func raw() {
	unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWNET, 0, 0) // want `unix.RawSyscall\(SYS_UNSHARE\) changes only`
	unix.RawSyscall(uintptr(unix.SYS_SETNS), 3, 0, 0)          // want `unix.RawSyscall\(SYS_SETNS\) changes only`
}

func goroutine() {
	runtime.LockOSThread()
	go func() {
		_ = unix.Unshare(unix.CLONE_NEWNS) // want `unix.Unshare changes only`
	}()
}

func variableFlags(flags int) {
	_ = unix.Unshare(flags)               // want `unix.Unshare changes only`
	_ = syscall.Mount("", "/", "", 0, "") // want `syscall.Mount after unshare`
}

// Negatives.

func locked() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return err
	}
	return unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "")
}

func lockedGoroutine(fd int) {
	go func() {
		runtime.LockOSThread()
		_ = unix.Setns(fd, 0)
	}()
}

func mountOnly() error {
	return unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "")
}

func mountAfterUTS() error {
	runtime.LockOSThread()
	_ = unix.Unshare(unix.CLONE_NEWUTS)
	runtime.UnlockOSThread()
	return unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "") // ok: UTS unshare does not scope mounts
}

func notNS() {
	unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
}

// setNS must be called with the thread locked; all its callers do.
func setNS(fd int) error { return unix.Setns(fd, 0) }

func callerLocks(fd int) error {
	runtime.LockOSThread()
	return setNS(fd)
}

type rpc struct{}

func (rpc) thread() error { return unix.Unshare(0x200) }

func (r rpc) start() {
	go func() {
		runtime.LockOSThread()
		_ = r.thread()
	}()
}

// setNS2 has one unlocked caller: still reported.
func setNS2(fd int) error { return unix.Setns(fd, 0) } // want `unix.Setns changes only`

func callerLocks2(fd int) error {
	runtime.LockOSThread()
	return setNS2(fd)
}

func callerForgets(fd int) error { return setNS2(fd) }

// SetNS3 is exported: callers elsewhere are unknown.
func SetNS3(fd int) error { return unix.Setns(fd, 0) } // want `unix.Setns changes only`

func callerLocks3(fd int) error {
	runtime.LockOSThread()
	return SetNS3(fd)
}
