package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/testrunsc"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// runscPath is the runsc the integration tests use: $RUNSC_STOCK, or the
// stock build of the harness's own cache (built on first use).
func runscPath(t *testing.T) string {
	t.Helper()
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	return testrunsc.Stock(t)
}

var tinyBin string

func tiny(t *testing.T) string {
	t.Helper()
	if tinyBin != "" {
		return tinyBin
	}
	root, err := guests.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	g, _ := guests.Lookup("tiny")
	b := &guests.Builder{RepoRoot: root, OutDir: filepath.Join(os.TempDir(), "runsc-harness-test-guests")}
	p, err := b.Build(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	tinyBin = p
	return p
}

func TestVariantValidate(t *testing.T) {
	tests := []struct {
		v       sandbox.Variant
		wantErr string
		flags   []string
	}{
		{sandbox.Variant{"systrap", "none", "default"}, "", []string{"--platform=systrap", "--network=none"}},
		{sandbox.Variant{"ptrace", "host", "off"}, "", []string{"--platform=ptrace", "--network=host", "--directfs=false"}},
		{sandbox.Variant{"ptrace", "sandbox", "on"}, "", []string{"--platform=ptrace", "--network=sandbox", "--directfs=true"}},
		{sandbox.Variant{"kvmm", "none", "default"}, `unknown platform "kvmm"`, nil},
		{sandbox.Variant{"systrap", "bridge", "default"}, `unknown network "bridge"`, nil},
		{sandbox.Variant{"systrap", "none", "yes"}, `unknown directfs "yes"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.v.String(), func(t *testing.T) {
			err := tc.v.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.flags, tc.v.Flags()); diff != "" {
					t.Errorf("Flags (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestRunRejectsBadVariantBeforeStarting(t *testing.T) {
	dir := t.TempDir()
	_, err := sandbox.Run(context.Background(), sandbox.RunOptions{
		Runsc:   "/nonexistent/runsc",
		Variant: sandbox.Variant{"kvmm", "none", "default"},
		LogDir:  filepath.Join(dir, "log"),
	})
	if err == nil || !strings.Contains(err.Error(), "unknown platform") {
		t.Fatalf("Run = %v, want unknown platform", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log dir created before validation: %v", err)
	}
}

func TestNative(t *testing.T) {
	bin := tiny(t)
	tests := []struct {
		name       string
		args       []string
		timeout    time.Duration
		wantFail   string
		wantStdout string
	}{
		{"report", nil, 10 * time.Second, "", `"program": "tiny"`},
		{"hang", []string{"-sleep"}, time.Second, "killed at its deadline", "going to sleep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sandbox.Native(context.Background(), sandbox.NativeOptions{Binary: bin, Args: tc.args, LogDir: t.TempDir(), Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			if f := res.Failure(); !strings.Contains(f, tc.wantFail) || (tc.wantFail == "") != (f == "") {
				t.Errorf("Failure() = %q, want %q", f, tc.wantFail)
			}
			if !bytes.Contains(res.Stdout, []byte(tc.wantStdout)) {
				t.Errorf("stdout = %q, want %q", res.Stdout, tc.wantStdout)
			}
			if tc.wantFail != "" && !strings.Contains(res.Failure(), "sleeping forever") {
				t.Errorf("failure lacks the last stderr: %q", res.Failure())
			}
		})
	}
}

// runtimeFor makes a fresh private state root and checks after the test
// that it holds no container and names no live process.
func runtimeFor(t *testing.T, runsc string) sandbox.Runtime {
	t.Helper()
	root, err := os.MkdirTemp("", "rh-state-")
	if err != nil {
		t.Fatal(err)
	}
	rt := sandbox.Runtime{Runsc: runsc, StateRoot: root}
	t.Cleanup(func() {
		assertClean(t, rt)
		rt.CleanupAll()
		os.RemoveAll(root)
	})
	return rt
}

func assertClean(t *testing.T, rt sandbox.Runtime) {
	t.Helper()
	ids, err := rt.List(context.Background())
	if err != nil {
		t.Errorf("runsc list: %v", err)
	}
	if len(ids) != 0 {
		t.Errorf("containers left in %s: %v", rt.StateRoot, ids)
	}
	procs, err := rt.Leftovers()
	if err != nil {
		t.Error(err)
	}
	if len(procs) != 0 {
		t.Errorf("processes left for %s: %v", rt.StateRoot, procs)
	}
	// The same check as a person would do it: ps.
	ps, _ := exec.Command("ps", "-eo", "pid,args").Output()
	for _, line := range strings.Split(string(ps), "\n") {
		if strings.Contains(line, rt.StateRoot) {
			t.Errorf("ps shows a leftover: %s", line)
		}
	}
}

func bundle(t *testing.T, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := oci.Write(dir, oci.Options{Binary: tiny(t), Args: args}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunsc(t *testing.T) {
	runsc := runscPath(t)
	for _, v := range []sandbox.Variant{
		{"systrap", "none", "default"},
		{"ptrace", "none", "default"},
		{"systrap", "sandbox", "off"},
		{"systrap", "host", "on"},
	} {
		t.Run(strings.ReplaceAll(v.String(), "/", "_"), func(t *testing.T) {
			rt := runtimeFor(t, runsc)
			logDir := t.TempDir()
			res, err := sandbox.Run(context.Background(), sandbox.RunOptions{
				Runsc: runsc, StateRoot: rt.StateRoot, Variant: v,
				Bundle: bundle(t), LogDir: logDir, Timeout: 60 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if f := res.Failure(); f != "" || res.ExitCode != 0 {
				t.Fatalf("run failed: %s (exit %d)", f, res.ExitCode)
			}
			rep, err := guestio.Read(bytes.NewReader(res.Stdout))
			if err != nil {
				t.Fatalf("stdout is not a report: %v\n%s", err, res.Stdout)
			}
			if rep.Program != "tiny" || len(rep.Cases) != 4 {
				t.Errorf("report = %+v", rep)
			}
			logs, _ := filepath.Glob(filepath.Join(logDir, "runsc.log.*"))
			if len(logs) == 0 {
				t.Errorf("no runsc debug logs in %s", logDir)
			}
		})
	}
}

func TestRunscDeadlineAndCancel(t *testing.T) {
	runsc := runscPath(t)
	tests := []struct {
		name     string
		timeout  time.Duration
		cancelAt time.Duration
		want     string
	}{
		{"deadline", 3 * time.Second, 0, "killed at its deadline"},
		{"cancel", 60 * time.Second, 2 * time.Second, "cancelled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := runtimeFor(t, runsc)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAt > 0 {
				time.AfterFunc(tc.cancelAt, cancel)
			}
			start := time.Now()
			res, err := sandbox.Run(ctx, sandbox.RunOptions{
				Runsc: runsc, StateRoot: rt.StateRoot, Variant: sandbox.Variant{"systrap", "none", "default"},
				Bundle: bundle(t, "-sleep"), LogDir: t.TempDir(), Timeout: tc.timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > 20*time.Second {
				t.Errorf("teardown took %v", el)
			}
			f := res.Failure()
			if !strings.Contains(f, tc.want) {
				t.Errorf("Failure() = %q, want %q", f, tc.want)
			}
			if !bytes.Contains(res.Stdout, []byte("going to sleep")) {
				t.Errorf("last output lost: stdout %q", res.Stdout)
			}
			if !strings.Contains(f, res.LogDir) {
				t.Errorf("failure does not name the log dir: %q", f)
			}
			assertClean(t, rt)
		})
	}
}

func TestRunscCrashAtStart(t *testing.T) {
	runsc := runscPath(t)
	rt := runtimeFor(t, runsc)
	b := bundle(t)
	// No guest binary: runsc fails while starting the container.
	if err := os.Remove(filepath.Join(b, "rootfs", "guest")); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	res, err := sandbox.Run(context.Background(), sandbox.RunOptions{
		Runsc: runsc, StateRoot: rt.StateRoot, Variant: sandbox.Variant{"systrap", "none", "default"},
		Bundle: b, LogDir: logDir, Timeout: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || res.Failure() != "" {
		t.Errorf("exit %d, failure %q: want a non-zero exit and no deadline failure", res.ExitCode, res.Failure())
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "runsc.log.*"))
	if len(logs) == 0 {
		t.Errorf("no runsc log kept in %s for a crash at start", logDir)
	}
	if len(res.Stderr) == 0 {
		t.Error("runsc's complaint is not in stderr")
	}
}
