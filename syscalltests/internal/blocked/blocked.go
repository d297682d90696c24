// Package blocked waits until a thread is really asleep in the kernel, so
// that a signal sent next interrupts a blocking system call rather than
// racing with its entry.
package blocked

import (
	"bytes"
	"fmt"
	"os"
	"time"
)

// State returns the one-letter scheduler state of thread tid of this
// process, as /proc/self/task/TID/stat reports it ('R', 'S', 'D', ...).
func State(tid int) (byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may itself contain spaces or
	// parentheses: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("malformed stat for task %d: %q", tid, b)
	}
	return b[i+2], nil
}

// Wait polls until thread tid is sleeping ('S' or 'D') or the deadline
// passes. It reports whether the thread was seen sleeping.
func Wait(tid int, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := State(tid)
		if err != nil {
			return false, err
		}
		if s == 'S' || s == 'D' {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(50 * time.Microsecond)
	}
}
