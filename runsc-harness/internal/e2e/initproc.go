package e2e

import (
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// RunAsInit is for a program that is PID 1 of its container: it starts
// the program again as its child, with childEnv ("NAME=1") added so that the
// child knows to do the work, and reaps every process reparented to PID 1
// until that child exits. It returns the child's exit status (128+N for a
// signal N); prog names the program in messages.
func RunAsInit(prog, childEnv string) int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), childEnv)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: wait4: %v\n", prog, err)
			return 1
		}
		if pid == cmd.Process.Pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}
