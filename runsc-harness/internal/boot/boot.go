// Package boot proves that a freshly built runsc runs: it starts a guest
// that blocks, sleeps, takes signals and spawns threads (the bootstrap
// storm, for a moment) in a sandbox of that runsc, and fails with the
// Sentry's panic, or the hang, in its message.
//
// A runsc that compiles may still be unable to run anything: gVisor reads
// Go runtime internals at fixed offsets, and a snapshot built with a
// toolchain it does not know panics on its first blocking call. The build
// package calls a Checker before it caches a binary.
package boot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// DefaultArgs run each of the storm guest's three cases for 300 ms: every
// case blocks a thread in a host-visible way, sleeps, and takes a SIGURG
// storm; the guest spawns threads and a child process.
var DefaultArgs = []string{"-duration", "300ms", "-timeout", "40s"}

// Checker boots runsc binaries on one guest.
type Checker struct {
	// Guest is the static guest binary (the storm guest).
	Guest string
	// Args are the guest's arguments; DefaultArgs when nil.
	Args []string
	// Variant is the runsc configuration; systrap, no network when zero.
	Variant sandbox.Variant
	// Timeout bounds the whole run; a runsc still running then has hung.
	// One minute when zero.
	Timeout time.Duration
	// FailedLogs, when set, is a directory under which the logs of a
	// binary that does not boot are kept (in a fresh subdirectory named in
	// the error). Otherwise they are removed with everything else.
	FailedLogs string
}

// panicLines is how many lines of a panic go into the error.
const panicLines = 6

// Check runs the guest under runsc. It returns a one-line description of
// what ran, or an error that says why runsc does not run: the first lines
// of a Sentry panic or fatal error from runsc's logs, a hang, or a guest
// that printed no report. Nothing is left behind: no container, process,
// mount or directory (but FailedLogs).
func (c *Checker) Check(ctx context.Context, runsc string) (string, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return "", err
	}
	v := c.Variant
	if v == (sandbox.Variant{}) {
		v = sandbox.Variant{Platform: "systrap", Network: "none", DirectFS: "default"}
	}
	args, timeout := c.Args, c.Timeout
	if args == nil {
		args = DefaultArgs
	}
	if timeout == 0 {
		timeout = time.Minute
	}
	work, err := os.MkdirTemp("", "restartsys-boot-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	bundle := filepath.Join(work, "bundle")
	if _, err := oci.Write(bundle, oci.Options{Binary: c.Guest, Args: args}); err != nil {
		return "", err
	}
	sb, err := sandbox.NewStateBase(work)
	if err != nil {
		return "", err
	}
	rt, err := sb.Runtime("boot", runsc)
	if err != nil {
		sb.Close()
		return "", err
	}
	logDir := filepath.Join(work, "logs")
	res, runErr := sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: runsc, StateRoot: rt.StateRoot, Variant: v, Bundle: bundle,
		LogDir: logDir, Timeout: timeout,
	})
	if cerr := sb.Close(); cerr != nil && runErr == nil {
		runErr = fmt.Errorf("cleaning up after the boot check: %w", cerr)
	}
	if runErr != nil {
		return "", runErr
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	why := judge(res)
	if why == "" {
		rep, _ := guestio.Read(bytes.NewReader(res.Stdout))
		return fmt.Sprintf("%s guest %s ran under %s/%s: %d case(s) reported in %v",
			filepath.Base(c.Guest), strings.Join(args, " "), v.Platform, v.Network, len(rep.Cases), res.Duration.Round(time.Millisecond)), nil
	}
	if p := FindPanic(logDir, panicLines); p != "" {
		why += "; runsc logged:\n" + p
	}
	if c.FailedLogs != "" {
		if kept, err := keepLogs(logDir, c.FailedLogs); err == nil {
			why += "\n(runsc's logs: " + kept + ")"
		}
	}
	return "", errors.New(why)
}

// judge says why a run does not show a working runsc, or "" if it does:
// the guest exited by itself with status 0 and printed a report with at
// least one case.
func judge(res *sandbox.Result) string {
	if res.TimedOut {
		return fmt.Sprintf("runsc hung: the guest did not finish within %v", res.Duration.Round(time.Second))
	}
	if f := res.Failure(); f != "" {
		return f
	}
	rep, err := guestio.Read(bytes.NewReader(res.Stdout))
	switch {
	case err != nil:
		return fmt.Sprintf("the guest printed no report (%v), exit status %d", err, res.ExitCode)
	case len(rep.Cases) == 0:
		return "the guest's report has no case"
	case res.ExitCode != 0:
		return fmt.Sprintf("the guest exited with status %d", res.ExitCode)
	}
	return ""
}

// FindPanic returns the first n lines of the first Go panic or fatal error
// in the files of runsc's log directory dir (the Sentry's goes to the
// boot log), or "".
func FindPanic(dir string, n int) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if lines == nil && !strings.HasPrefix(line, "panic: ") && !strings.HasPrefix(line, "fatal error: ") {
				continue
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			lines = append(lines, "    "+line)
			if len(lines) == n {
				break
			}
		}
		f.Close()
		if lines != nil {
			return strings.Join(lines, "\n")
		}
	}
	return ""
}

// keepLogs moves the log directory into a fresh directory under parent.
func keepLogs(logDir, parent string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	dst, err := os.MkdirTemp(parent, time.Now().UTC().Format("20060102-150405")+"-")
	if err != nil {
		return "", err
	}
	if err := os.Remove(dst); err != nil {
		return "", err
	}
	if err := os.Rename(logDir, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// StormGuest is the guest a Checker boots by default.
const StormGuest = "storm"

// ForRepo returns a Checker that boots the storm guest, built (or reused)
// from the repository at repoRoot into its out/guests directory, and keeps
// the logs of a binary that does not boot under failedLogs. Progress lines
// go to log, which may be nil.
func ForRepo(ctx context.Context, repoRoot, failedLogs string, log io.Writer) (*Checker, error) {
	g, err := guests.Lookup(StormGuest)
	if err != nil {
		return nil, err
	}
	b := &guests.Builder{RepoRoot: repoRoot, OutDir: filepath.Join(repoRoot, "out", "guests"), Log: log}
	bin, err := b.Build(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("boot check: %w", err)
	}
	return &Checker{Guest: bin, FailedLogs: failedLogs}, nil
}
