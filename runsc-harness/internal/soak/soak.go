// Package soak runs the bootstrap storm under one runsc for a long time and
// samples the Sentry's resident memory meanwhile: interrupted calls, EINTR,
// wrong bytes and memory growth, in one table and soak.json.
package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// Case is one storm case of a soak run.
type Case struct {
	Shape       string `json:"shape"`
	Result      string `json:"result"`
	Interrupted int64  `json:"interrupted"`
	EINTR       int64  `json:"eintr"`
	WrongBytes  int64  `json:"wrong_bytes"`
	Rounds      int64  `json:"rounds"`
	ElapsedMS   int64  `json:"elapsed_ms"`
}

// RSSSample is the resident set of the Sentry at one moment.
type RSSSample struct {
	AtSeconds float64 `json:"at_s"`
	RSSKiB    int64   `json:"rss_kib"`
}

// Result is what soak prints and writes as soak.json.
type Result struct {
	Command     []string    `json:"command"`
	Date        time.Time   `json:"date"`
	Runsc       string      `json:"runsc"`
	Stamp       string      `json:"runsc_version"`
	Platform    string      `json:"platform"`
	Variant     string      `json:"storm_variant"`
	Duration    string      `json:"duration"`
	WallSeconds float64     `json:"wall_seconds"`
	Interrupted int64       `json:"interrupted"`
	EINTR       int64       `json:"eintr"`
	WrongBytes  int64       `json:"wrong_bytes"`
	Cases       []Case      `json:"cases"`
	SentryPID   int         `json:"sentry_pid"`
	RSSBootKiB  int64       `json:"rss_boot_kib"`
	RSSStartKiB int64       `json:"rss_start_kib"`
	RSSEndKiB   int64       `json:"rss_end_kib"`
	RSSMaxKiB   int64       `json:"rss_max_kib"`
	RSS         []RSSSample `json:"rss_samples"`
	Failure     string      `json:"failure,omitempty"`
	LogDir      string      `json:"log_dir"`
}

// Config says what to soak.
type Config struct {
	// Runsc is the (patched) runsc binary and Stamp its version line.
	Runsc, Stamp string
	// Variant is the runsc configuration.
	Variant sandbox.Variant
	// Storm is the storm variant: sync-socket, exec-fifo or all.
	Storm string
	// Duration is the whole storm, split evenly between its cases.
	Duration time.Duration
	// Sample is how often the Sentry's RSS is recorded.
	Sample time.Duration
	// Out receives soak.json and the logs.
	Out string
	// Command is the command line, for the record.
	Command []string
	// Log receives progress; nil discards.
	Log io.Writer
}

// Run soaks c.Runsc and writes soak.json into c.Out; it returns the result
// and the file's path. Verdict judges the result.
func Run(ctx context.Context, c Config) (*Result, string, error) {
	log := c.Log
	if log == nil {
		log = io.Discard
	}
	cases := map[string]int{"sync-socket": 1, "exec-fifo": 2, "all": 3}[c.Storm]
	if cases == 0 {
		return nil, "", fmt.Errorf("unknown storm variant %q (want sync-socket, exec-fifo or all)", c.Storm)
	}
	v, variant, duration, sample := c.Variant, &c.Storm, &c.Duration, &c.Sample
	res := &Result{Command: c.Command, Date: time.Now().UTC(), Runsc: c.Runsc, Stamp: c.Stamp,
		Platform: v.Platform, Variant: c.Storm, Duration: c.Duration.String()}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return nil, "", err
	}
	if c.Out == "" {
		c.Out = filepath.Join(repo, "out", "soak-"+time.Now().Format("20060102-150405"))
	}
	if c.Out, err = filepath.Abs(c.Out); err != nil {
		return nil, "", err
	}
	g, _ := guests.Lookup("storm")
	bin, err := (&guests.Builder{RepoRoot: repo, OutDir: filepath.Join(repo, "out", "guests"), Log: log}).Build(ctx, g)
	if err != nil {
		return nil, "", err
	}
	perCase := *duration / time.Duration(cases)
	guestTimeout := *duration + time.Minute
	guestArgs := []string{"-variant", *variant, "-duration", perCase.String(), "-rounds", "0", "-timeout", guestTimeout.String()}
	bundleDir := filepath.Join(c.Out, "bundle")
	if _, err := oci.Write(bundleDir, oci.Options{Binary: bin, Args: guestArgs}); err != nil {
		return nil, "", err
	}

	sb, err := harness.OpenStateBase("", log)
	if err != nil {
		return nil, "", err
	}
	rt, err := sb.Runtime("patched", res.Runsc)
	if err != nil {
		sb.Close()
		return nil, "", err
	}
	fmt.Fprintf(log, "soak: storm %s for %v under %s (%s), Sentry memory sampled every %v\n", *variant, *duration, res.Runsc, v.Platform, *sample)

	// Sample the Sentry's memory while the storm runs.
	sctx, stopSampling := context.WithCancel(ctx)
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		var last time.Time
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
			pid := res.SentryPID
			if pid == 0 {
				if pid = sentryPID(rt.StateRoot); pid == 0 {
					continue
				}
			}
			kib, err := vmRSS(pid)
			if err != nil {
				continue // gone: the run is ending
			}
			mu.Lock()
			res.SentryPID = pid
			// The first sample, then every --sample, and always the
			// latest (the end figure) in RSSEndKiB.
			s := RSSSample{AtSeconds: time.Since(start).Seconds(), RSSKiB: kib}
			if last.IsZero() || time.Since(last) >= *sample {
				res.RSS = append(res.RSS, s)
				last = time.Now()
			}
			res.RSSEndKiB = kib
			res.RSSMaxKiB = max(res.RSSMaxKiB, kib)
			mu.Unlock()
		}
	}()
	run, runErr := sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: res.Runsc, StateRoot: rt.StateRoot, Variant: v, Bundle: bundleDir,
		LogDir: filepath.Join(c.Out, "logs"), Timeout: guestTimeout + time.Minute,
	})
	stopSampling()
	wg.Wait()
	if err := sb.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return nil, "", runErr
	}
	res.WallSeconds = time.Since(start).Seconds()
	res.LogDir = run.LogDir
	// Boot is the first sample, as the guest starts; start is the first
	// one a --sample interval later, once the storm is under way.
	for i, s := range res.RSS {
		if i == 0 {
			res.RSSBootKiB = s.RSSKiB
		}
		if s.AtSeconds >= res.RSS[0].AtSeconds+sample.Seconds()-0.5 {
			res.RSSStartKiB = s.RSSKiB
			break
		}
	}
	if f := run.Failure(); f != "" {
		res.Failure = f
	} else if rep, err := guestio.Read(bytes.NewReader(run.Stdout)); err != nil {
		res.Failure = fmt.Sprintf("no report on stdout (%v); exit status %d; last output: %s", err, run.ExitCode, run.LastOutput(400))
	} else {
		for _, cs := range rep.Cases {
			sc := Case{Shape: cs.Shape, Result: cs.Observed.Result, Interrupted: cs.Counters["interrupted"],
				EINTR: cs.Counters["eintr"], WrongBytes: cs.Counters["wrong_bytes"], Rounds: cs.Counters["rounds"], ElapsedMS: cs.Counters["elapsed_ms"]}
			res.Cases = append(res.Cases, sc)
			res.Interrupted += sc.Interrupted
			res.EINTR += sc.EINTR
			res.WrongBytes += sc.WrongBytes
		}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, "", err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, "", err
	}
	jsonPath := filepath.Join(c.Out, "soak.json")
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return nil, "", err
	}
	return res, jsonPath, nil
}

// Verdict fails a soak that could not run, that saw EINTR or a wrong byte,
// or that interrupted no call (and so proves nothing).
func Verdict(res *Result) error {
	switch {
	case res.Failure != "":
		return fmt.Errorf("soak run failed: %s", res.Failure)
	case res.EINTR != 0 || res.WrongBytes != 0:
		return fmt.Errorf("patched runsc returned EINTR %d time(s) and %d wrong byte(s) over %d interrupted calls", res.EINTR, res.WrongBytes, res.Interrupted)
	case res.Interrupted == 0:
		return errors.New("the storm interrupted no call: the soak proves nothing")
	}
	return nil
}

// Print writes the result as a few lines of text.
func Print(w io.Writer, r *Result, jsonPath string) {
	fmt.Fprintf(w, "soak: %s, %s, storm %s for %s (%.0fs wall)\n", r.Stamp, r.Platform, r.Variant, r.Duration, r.WallSeconds)
	for _, c := range r.Cases {
		rate := 0.0
		if c.ElapsedMS > 0 {
			rate = float64(c.Interrupted) / (float64(c.ElapsedMS) / 1000)
		}
		fmt.Fprintf(w, "  %-36s %-6s interrupted=%d (%.0f/s) eintr=%d wrong_bytes=%d rounds=%d\n",
			c.Shape, c.Result, c.Interrupted, rate, c.EINTR, c.WrongBytes, c.Rounds)
	}
	fmt.Fprintf(w, "total: interrupted=%d eintr=%d wrong_bytes=%d\n", r.Interrupted, r.EINTR, r.WrongBytes)
	fmt.Fprintf(w, "Sentry (pid %d) RSS: boot %d KiB, start %d KiB, end %d KiB, max %d KiB (%d samples)\n",
		r.SentryPID, r.RSSBootKiB, r.RSSStartKiB, r.RSSEndKiB, r.RSSMaxKiB, len(r.RSS))
	fmt.Fprintf(w, "written: %s\n", jsonPath)
}

// sentryPID finds the sandbox (Sentry) process of state root root: the
// runsc process naming the root that runs "boot". 0 if none yet.
func sentryPID(root string) int {
	procs, err := sandbox.Leftovers(root)
	if err != nil {
		return 0
	}
	for _, p := range procs {
		for _, a := range strings.Fields(p.Cmdline) {
			if a == "boot" {
				return p.PID
			}
		}
	}
	return 0
}

// vmRSS reads VmRSS (KiB) from /proc/PID/status.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
