package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Variant names accepted by -variant.
const (
	variantSyncSocket = "sync-socket"
	variantExecFIFO   = "exec-fifo"
	variantAll        = "all"
)

// Peek modes accepted by -peek.
const (
	// peekNull probes with the literal recvfrom(fd, NULL, 0,
	// MSG_PEEK|MSG_TRUNC, NULL, NULL) through unix.Syscall6.
	peekNull = "null"
	// peekXSys probes with unix.Recvfrom(fd, nil, MSG_PEEK|MSG_TRUNC),
	// which is what runc calls. x/sys passes a non-NULL pointer to a zero
	// word for the empty buffer and a sockaddr buffer for the peer address.
	peekXSys = "xsys"
)

// config is the parsed command line.
type config struct {
	variants    []string
	rounds      int64
	duration    time.Duration
	interval    time.Duration
	delay       time.Duration
	timeout     time.Duration
	strict      bool
	stopOnEINTR bool
	trials      int
	dir         string
	peek        string
}

// errUsage marks command-line errors (exit status 2).
var errUsage = errors.New("usage")

// parseConfig parses the command line arguments (without the program name).
func parseConfig(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("storm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	variant := fs.String("variant", variantAll, "which variant to run: sync-socket, exec-fifo or all")
	rounds := fs.Int64("rounds", 100000, "stop a case after this many rounds (packets or FIFO handshakes); 0 means no limit")
	duration := fs.Duration("duration", 6*time.Second, "stop a case after this much time (whichever of -rounds and -duration comes first)")
	interval := fs.Duration("interval", 100*time.Microsecond, "minimum gap between two signals of the storm")
	delay := fs.Duration("delay", 500*time.Microsecond, "how long the peer waits before each packet or FIFO open, so the tested thread is really blocked")
	timeout := fs.Duration("timeout", 0, "deadline for the whole run; unfinished cases are reported as \"hang\" (0: 3 × -trials × -duration + 30s, room for three cases)")
	strict := fs.Bool("strict", false, "exit 1 if any EINTR, wrong byte, hang or unexpected error was seen")
	stopOnEINTR := fs.Bool("stop-on-eintr", false, "end each case at its first EINTR (fast detection)")
	trials := fs.Int("trials", 1, "run each case this many times, each a fresh start reported as a case of its own with a \"trial\" counter (with -stop-on-eintr: time-to-first-EINTR statistics)")
	dir := fs.String("dir", os.TempDir(), "directory in which the exec-fifo variant makes its temporary FIFO directory")
	peek := fs.String("peek", peekNull, "how sync-socket probes the packet length: null (recvfrom(fd, NULL, 0, ...)) or xsys (unix.Recvfrom(fd, nil, ...), as runc does)")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	c := &config{
		rounds:      *rounds,
		duration:    *duration,
		interval:    *interval,
		delay:       *delay,
		timeout:     *timeout,
		strict:      *strict,
		stopOnEINTR: *stopOnEINTR,
		trials:      *trials,
		dir:         *dir,
		peek:        *peek,
	}
	switch *variant {
	case variantAll:
		c.variants = []string{variantSyncSocket, variantExecFIFO}
	case variantSyncSocket, variantExecFIFO:
		c.variants = []string{*variant}
	default:
		return nil, fmt.Errorf("%w: -variant %q: want sync-socket, exec-fifo or all", errUsage, *variant)
	}
	switch {
	case c.rounds < 0:
		return nil, fmt.Errorf("%w: -rounds must not be negative", errUsage)
	case c.duration <= 0:
		return nil, fmt.Errorf("%w: -duration must be positive", errUsage)
	case c.interval < 0:
		return nil, fmt.Errorf("%w: -interval must not be negative", errUsage)
	case c.delay < 0:
		return nil, fmt.Errorf("%w: -delay must not be negative", errUsage)
	case c.timeout < 0:
		return nil, fmt.Errorf("%w: -timeout must not be negative", errUsage)
	case c.trials < 1:
		return nil, fmt.Errorf("%w: -trials must be at least 1", errUsage)
	case c.peek != peekNull && c.peek != peekXSys:
		return nil, fmt.Errorf("%w: -peek %q: want null or xsys", errUsage, c.peek)
	}
	if c.timeout == 0 {
		c.timeout = 3*time.Duration(c.trials)*c.duration + 30*time.Second
	}
	return c, nil
}
