package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// Options describe one sandbox run: one runsc, every mode.
type Options struct {
	// Name names the runsc ("stock", "patched", ...); Kind says which.
	Name string
	Kind report.Kind
	// Runsc is the runsc binary; StateRoot its private --root.
	Runsc     string
	StateRoot string
	// Platform is the runsc platform (systrap or ptrace).
	Platform string
	// Driver and Runc are the static binaries put into the sandbox.
	Driver string
	Runc   string
	// Runs and Execs are the operations per mode; Modes the modes.
	Runs  int
	Execs int
	Modes []Mode
	// StormInterval is the SIGURG storm period.
	StormInterval time.Duration
	// OpTimeout bounds one runc command inside the sandbox; Timeout the
	// whole sandbox run (0: computed from the counts).
	OpTimeout time.Duration
	Timeout   time.Duration
	// WorkDir receives the bundle and the logs.
	WorkDir string
}

// Result is what one sandbox run produced.
type Result struct {
	// Name, Kind and Runsc identify the runsc.
	Name  string      `json:"name"`
	Kind  report.Kind `json:"kind"`
	Runsc string      `json:"runsc"`
	// Platform is the runsc platform.
	Platform string `json:"platform"`
	// Stats has one entry per (op, mode) the driver finished.
	Stats []Stat `json:"stats"`
	// Failure says why the sandbox run did not finish every (op, mode):
	// a deadline, a driver error, a cancelled run.
	Failure string `json:"failure,omitempty"`
	// ExitCode is the sandbox's exit status (-1 if killed).
	ExitCode int `json:"exit_code"`
	// DurationMS is the wall time of the sandbox run.
	DurationMS int64 `json:"duration_ms"`
	// LogDir holds the sandbox's stdout, stderr and runsc logs.
	LogDir string `json:"log_dir"`
	// RunscVersion is what the runsc binary says for --version, where
	// the client recorded it.
	RunscVersion string `json:"runsc_version,omitempty"`
}

// Stat returns the stat of op in mode, or nil.
func (r *Result) Stat(op Op, mode Mode) *Stat {
	for i := range r.Stats {
		if r.Stats[i].Op == op && r.Stats[i].Mode == mode {
			return &r.Stats[i]
		}
	}
	return nil
}

// DefaultTimeout is the sandbox deadline for o: a minute of slack plus a
// generous 3 s per operation.
func DefaultTimeout(o Options) time.Duration {
	ops := (o.Runs + o.Execs) * len(o.Modes)
	return time.Minute + time.Duration(ops)*3*time.Second
}

// Run starts one sandbox under o.Runsc with runc inside and returns what the
// driver reported. The sandbox and everything in its state root are gone
// when it returns. An error means the run could not be set up or cleaned
// up; a sandbox that died or hung is reported in Result.Failure.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout(o)
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 30 * time.Second
	}
	if o.StormInterval <= 0 {
		o.StormInterval = 200 * time.Microsecond
	}
	modes := make([]string, len(o.Modes))
	for i, m := range o.Modes {
		modes[i] = string(m)
	}
	args := []string{
		"-runs", strconv.Itoa(o.Runs), "-execs", strconv.Itoa(o.Execs),
		"-modes", strings.Join(modes, ","),
		"-storm-interval", o.StormInterval.String(), "-op-timeout", o.OpTimeout.String(),
	}
	bundle := filepath.Join(o.WorkDir, "bundle-"+o.Name)
	if err := WriteBundles(bundle, o.Driver, o.Runc, args); err != nil {
		return nil, err
	}
	v := sandbox.Variant{Platform: o.Platform, Network: "none", DirectFS: "default"}
	res, err := sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: o.Runsc, StateRoot: o.StateRoot, Variant: v, Bundle: bundle,
		LogDir: filepath.Join(o.WorkDir, "logs", o.Name), Timeout: o.Timeout,
	})
	if err != nil {
		return nil, err
	}
	r := &Result{
		Name: o.Name, Kind: o.Kind, Runsc: o.Runsc, Platform: o.Platform,
		ExitCode: res.ExitCode, DurationMS: res.Duration.Milliseconds(), LogDir: res.LogDir,
	}
	r.Stats, err = ParseStats(res.Stdout)
	if err != nil {
		r.Failure = err.Error()
	}
	want := 0
	for range o.Modes {
		if o.Runs > 0 {
			want++
		}
		if o.Execs > 0 {
			want++
		}
	}
	switch {
	case res.Failure() != "":
		r.Failure = res.Failure()
	case res.ExitCode != 0:
		r.Failure = fmt.Sprintf("driver exited with status %d; logs in %s; last output: %s", res.ExitCode, res.LogDir, res.LastOutput(600))
	case len(r.Stats) < want && r.Failure == "":
		r.Failure = fmt.Sprintf("driver reported %d of %d results; logs in %s", len(r.Stats), want, res.LogDir)
	}
	return r, nil
}

// ParseStats reads the driver's result lines from its stdout.
func ParseStats(stdout []byte) ([]Stat, error) {
	var stats []Stat
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), StatPrefix)
		if !ok {
			continue
		}
		var s Stat
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			return stats, fmt.Errorf("bad driver result line %q: %w", line, err)
		}
		stats = append(stats, s)
	}
	return stats, sc.Err()
}
