// Package e2e runs real runc inside one runsc sandbox: sequential
// `runc run` and `runc exec -d` (the docker exec path) with and without a
// SIGURG storm, and with GODEBUG=asyncpreemptoff=1, the known workaround.
//
// The pieces: BuildRunc builds runc from the Go module proxy (cached);
// WriteBundles lays out the outer bundle (runc, the driver program of
// ./driver and the inner bundles in its rootfs); the driver, as the
// sandbox's init, mounts cgroup v1 hierarchies, runs the operations and
// prints one Stat per line on stdout; Parse and the report functions turn
// those lines into JSON, JUnit XML and Markdown.
package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Op is a runc operation the driver repeats.
type Op string

// The operations.
const (
	// OpRun is `runc run` of a container whose process exits at once.
	OpRun Op = "run"
	// OpExec is `runc exec -d` into a running container (started with
	// `runc run -d`): what containerd's shim does for `docker exec`.
	OpExec Op = "exec"
)

// Mode is the condition the operations run under.
type Mode string

// The modes.
const (
	// ModePlain is no injected signals: the natural rate.
	ModePlain Mode = "plain"
	// ModeStorm sends SIGURG to every thread of every runc process
	// (comm starting with "runc") every storm interval.
	ModeStorm Mode = "storm"
	// ModeAsyncPreemptOff is no storm, with GODEBUG=asyncpreemptoff=1 in
	// runc's environment: the known workaround.
	ModeAsyncPreemptOff Mode = "asyncpreemptoff"
)

// Modes lists every mode in report order.
var Modes = []Mode{ModePlain, ModeStorm, ModeAsyncPreemptOff}

// Ops lists every operation in report order.
var Ops = []Op{OpRun, OpExec}

// StatPrefix starts every result line the driver prints on stdout.
const StatPrefix = "E2E-STAT "

// FieldError is the error runc v1.2.0–v1.2.5 reports when the Sentry
// returns EINTR from its sync-socket length probe: the message from the
// field.
const FieldError = "reading from parent failed: fetch packet length from socket: interrupted system call"

// FIFOError is the error `runc run` reports when the Sentry returns EINTR
// from the blocking open of its exec FIFO (runc v1.2.x before 1.2.8; fd
// numbers normalised to N).
const FIFOError = "open exec fifo /proc/thread-self/fd/N: interrupted system call"

// Stat is the outcome of N repetitions of one operation in one mode.
type Stat struct {
	Op   Op   `json:"op"`
	Mode Mode `json:"mode"`
	// Runs is how many operations ran; Failures how many of them failed
	// (non-zero exit status or killed at the per-operation deadline).
	Runs     int `json:"runs"`
	Failures int `json:"failures"`
	// Errors counts the distinct (normalised) error messages.
	Errors map[string]int `json:"errors,omitempty"`
	// Samples holds, per distinct error message, runc's raw stderr the
	// first time it appeared (truncated).
	Samples map[string]string `json:"samples,omitempty"`
	// TotalMS is the wall time of all runs; MeanMS, P50MS, P95MS and MaxMS
	// describe one run.
	TotalMS int64   `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
	P50MS   int64   `json:"p50_ms"`
	P95MS   int64   `json:"p95_ms"`
	MaxMS   int64   `json:"max_ms"`
	// Signals is how many SIGURGs the storm sent during these runs.
	Signals int64 `json:"signals,omitempty"`
	// DaemonLines counts the lines of the daemon's log (dockerd's, for
	// docker) written during these runs that carry FieldError;
	// DaemonSample is the first of them (truncated).
	DaemonLines  int    `json:"daemon_field_lines,omitempty"`
	DaemonSample string `json:"daemon_sample,omitempty"`
	// Setup is set when the mode could not be set up (for exec: the
	// long-lived container did not start); Runs is 0 then.
	Setup string `json:"setup,omitempty"`
}

// Summarise fills the timing fields of s from per-run durations in ms.
func (s *Stat) Summarise(ms []int64) {
	if len(ms) == 0 {
		return
	}
	sorted := append([]int64(nil), ms...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var total int64
	for _, m := range sorted {
		total += m
	}
	s.TotalMS = total
	s.MeanMS = float64(total) / float64(len(sorted))
	s.P50MS = sorted[len(sorted)/2]
	i := (len(sorted) * 95) / 100
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	s.P95MS = sorted[i]
	s.MaxMS = sorted[len(sorted)-1]
}

var (
	msgRE   = regexp.MustCompile(`msg="((?:[^"\\]|\\.)*)"`)
	fdRE    = regexp.MustCompile(`(fd[/ ])\d+`)
	pidRE   = regexp.MustCompile(`(pid |process )\d+`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// NormaliseError turns runc's stderr (logrus text lines, or plain text)
// into one message for counting: the error-level msg="..." values and the
// plain (non-logrus) lines in order, joined by " → " (runc init's own
// error comes as a plain line before runc's final one); the container ID
// is replaced by <id> and fd and pid numbers by N.
func NormaliseError(stderr, id string) string {
	var msgs []string
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if m := msgRE.FindStringSubmatch(line); m != nil {
			if !strings.Contains(line, "level=error") && !strings.Contains(line, "level=fatal") {
				continue
			}
			u, err := strconv.Unquote(`"` + m[1] + `"`)
			if err != nil {
				u = m[1]
			}
			if len(msgs) == 0 || msgs[len(msgs)-1] != u {
				msgs = append(msgs, u)
			}
			continue
		}
		if !strings.Contains(line, "level=") && (len(msgs) == 0 || msgs[len(msgs)-1] != line) {
			// runc init's error reaches stderr as a plain line.
			msgs = append(msgs, line)
		}
	}
	msg := strings.Join(msgs, " → ")
	if id != "" {
		msg = strings.ReplaceAll(msg, id, "<id>")
	}
	msg = fdRE.ReplaceAllString(msg, "${1}N")
	msg = pidRE.ReplaceAllString(msg, "${1}N")
	msg = spaceRE.ReplaceAllString(msg, " ")
	if len(msg) > 400 {
		msg = msg[:400] + "..."
	}
	if msg == "" {
		msg = "(no error message)"
	}
	return msg
}

// ParseModes reads a comma-separated list of modes (plain, storm,
// asyncpreemptoff); an unknown or empty list is an error.
func ParseModes(list string) ([]Mode, error) {
	var out []Mode
	for _, m := range strings.Split(list, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !slices.Contains(Modes, Mode(m)) {
			return nil, fmt.Errorf("unknown mode %q (want plain, storm, asyncpreemptoff)", m)
		}
		out = append(out, Mode(m))
	}
	if len(out) == 0 {
		return nil, errors.New("no mode selected")
	}
	return out, nil
}
