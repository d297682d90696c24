package e2e

import (
	"bytes"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Storm sends SIGURG with tgkill to every thread of every process whose
// comm starts with prefix ("runc": runc and runc:[2:INIT]) every interval,
// skipping itself and PID 1, until stop is closed; sent counts the signals
// delivered. SIGURG is what Go's asynchronous preemption sends, and runc's
// handler for it has SA_RESTART.
func Storm(prefix string, interval time.Duration, stop <-chan struct{}, sent *atomic.Int64) {
	self := os.Getpid()
	for {
		select {
		case <-stop:
			return
		default:
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || pid == 1 {
				continue
			}
			comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
			if err != nil || !bytes.HasPrefix(comm, []byte(prefix)) {
				continue
			}
			tasks, _ := os.ReadDir("/proc/" + e.Name() + "/task")
			for _, t := range tasks {
				tid, err := strconv.Atoi(t.Name())
				if err != nil {
					continue
				}
				if unix.Tgkill(pid, tid, unix.SIGURG) == nil {
					sent.Add(1)
				}
			}
		}
		time.Sleep(interval)
	}
}

// StormControl runs Storm in a goroutine until End.
type StormControl struct {
	stop chan struct{}
	done chan struct{}
	sent atomic.Int64
}

// StartStorm starts a storm on runc's threads if on is set; otherwise the
// control does nothing and End returns 0.
func StartStorm(on bool, interval time.Duration) *StormControl {
	s := &StormControl{stop: make(chan struct{}), done: make(chan struct{})}
	if !on {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		Storm("runc", interval, s.stop, &s.sent)
	}()
	return s
}

// End stops the storm and returns how many signals it sent.
func (s *StormControl) End() int64 {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.sent.Load()
}
