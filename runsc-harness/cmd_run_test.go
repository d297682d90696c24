package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/testrunsc"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

func TestParseRunFlags(t *testing.T) {
	runsc := os.Args[0] // any executable file will do for parsing
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*testing.T, *runConfig)
	}{
		{
			name: "defaults",
			args: []string{"--guest", "storm", "--runsc", "stock=" + runsc},
			check: func(t *testing.T, c *runConfig) {
				want := []sandbox.Variant{{Platform: "systrap", Network: "none", DirectFS: "default"}}
				if len(c.Variants) != 1 || c.Variants[0] != want[0] {
					t.Errorf("variants = %v, want %v", c.Variants, want)
				}
				if c.Runscs[0].Kind != report.Stock {
					t.Errorf("kind = %v", c.Runscs[0].Kind)
				}
			},
		},
		{
			name: "cross product and guest args",
			args: []string{"--guest", "tiny", "--runsc", "stock=" + runsc, "--runsc", "patched-v2=" + runsc,
				"--platform", "systrap,ptrace", "--network", "none,host", "--directfs", "off", "--", "-sleep"},
			check: func(t *testing.T, c *runConfig) {
				if len(c.Variants) != 4 {
					t.Errorf("got %d variants, want 4: %v", len(c.Variants), c.Variants)
				}
				if c.Runscs[1].Kind != report.Patched {
					t.Errorf("patched-v2 kind = %v", c.Runscs[1].Kind)
				}
				if len(c.GuestArgs) != 1 || c.GuestArgs[0] != "-sleep" {
					t.Errorf("guest args = %q", c.GuestArgs)
				}
				if got := harness.VariantName(c.Runscs[1], c.Variants[0]); got != "patched-v2/systrap/none/directfs=off" {
					t.Errorf("variant name = %q", got)
				}
			},
		},
		{name: "all is storm and matrix", args: []string{"--native"}, check: func(t *testing.T, c *runConfig) {
			if strings.Join(c.Guests, ",") != "storm,matrix" {
				t.Errorf("guests = %v", c.Guests)
			}
		}},
		{name: "unknown platform", args: []string{"--runsc", "stock=" + runsc, "--platform", "kvmx"}, wantErr: `unknown platform "kvmx"`},
		{name: "unknown network", args: []string{"--runsc", "stock=" + runsc, "--network", "bridge"}, wantErr: `unknown network`},
		{name: "unknown guest", args: []string{"--guest", "nope", "--native"}, wantErr: "unknown guest"},
		{name: "runsc kind", args: []string{"--runsc", "mine=" + runsc}, wantErr: "must start with"},
		{name: "runsc missing", args: []string{"--runsc", "stock=/nonexistent/runsc"}, wantErr: "no such file"},
		{name: "no runsc", args: []string{"--guest", "tiny"}, wantErr: "no --runsc"},
		{name: "guest args need one guest", args: []string{"--native", "--", "-x"}, wantErr: "single --guest"},
		{name: "native excludes runsc", args: []string{"--native", "--runsc", "stock=" + runsc}, wantErr: "--native"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseRunFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// harnessBin returns the runsc-harness binary that TestMain (main_test.go)
// built once for this test binary, in a temporary directory it removes.
func harnessBin(t *testing.T) string {
	t.Helper()
	if cliBin == "" {
		t.Fatal("TestMain did not build the runsc-harness binary")
	}
	return cliBin
}

func stockRunsc(t *testing.T) string {
	t.Helper()
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	return testrunsc.Stock(t)
}

// assertNothingLeft checks the state root the way a person would: runsc
// list shows no container and ps shows no process naming it.
func assertNothingLeft(t *testing.T, runsc, state string) {
	t.Helper()
	rt := sandbox.Runtime{Runsc: runsc, StateRoot: state}
	if _, err := os.Stat(state); err == nil {
		ids, err := rt.List(context.Background())
		if err != nil {
			t.Errorf("runsc list: %v", err)
		}
		if len(ids) > 0 {
			t.Errorf("containers left in %s: %v", state, ids)
		}
	}
	ps, err := exec.Command("ps", "-eo", "pid,args").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ps), "\n") {
		if strings.Contains(line, state) {
			t.Errorf("process left: %s", line)
		}
	}
}

func readDoc(t *testing.T, path string) *report.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRunKilledGuest(t *testing.T) {
	runsc := stockRunsc(t)
	bin := harnessBin(t)
	dir := t.TempDir()
	state, out := filepath.Join(dir, "state"), filepath.Join(dir, "out")
	cmd := exec.Command(bin, "run", "--guest", "tiny", "--runsc", "stock="+runsc, "--timeout", "3s",
		"--state", state, "--out", out, "--", "-sleep")
	cmd.Dir = "."
	start := time.Now()
	stdout, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("harness exit = %v, want status 1; stdout:\n%s", err, stdout)
	}
	if el := time.Since(start); el > 40*time.Second {
		t.Errorf("took %v", el)
	}
	assertNothingLeft(t, runsc, filepath.Join(state, "stock"))
	d := readDoc(t, filepath.Join(out, "report.json"))
	if len(d.Runs) != 2 {
		t.Fatalf("runs = %d, want native and stock", len(d.Runs))
	}
	for _, r := range d.Runs {
		if !strings.Contains(r.Failure, "killed at its deadline") || !strings.Contains(r.Failure, "sleeping forever") {
			t.Errorf("%s failure = %q, want a deadline kill with the last output", r.Variant, r.Failure)
		}
	}
	if !strings.Contains(string(stdout), "Not judged") {
		t.Errorf("markdown does not show the failed run:\n%s", stdout)
	}
	for _, f := range []string{"junit.xml", "report.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestRunSIGINT(t *testing.T) {
	runsc := stockRunsc(t)
	bin := harnessBin(t)
	dir := t.TempDir()
	state, out := filepath.Join(dir, "state"), filepath.Join(dir, "out")
	// The native run hangs until its 8 s deadline; then the runsc run
	// starts, and the harness gets SIGINT while the sandbox is up.
	cmd := exec.Command(bin, "run", "--guest", "tiny", "--runsc", "stock="+runsc, "--timeout", "8s",
		"--state", state, "--out", out, "--", "-sleep")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	root := filepath.Join(state, "stock")
	seen := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !seen; time.Sleep(100 * time.Millisecond) {
		procs, _ := sandbox.Leftovers(root)
		for _, p := range procs {
			if strings.Contains(p.Cmdline, "boot") { // the sandbox itself
				seen = true
			}
		}
	}
	if !seen {
		cmd.Process.Kill()
		t.Fatal("the sandbox never started")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("harness exit after SIGINT = %v, want non-zero", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("harness did not exit within 30 s of SIGINT")
	}
	assertNothingLeft(t, runsc, root)
	d := readDoc(t, filepath.Join(out, "report.json"))
	var cancelled bool
	for _, r := range d.Runs {
		if r.Variant != report.NativeVariant && strings.Contains(r.Failure, "cancelled") {
			cancelled = true
		}
	}
	if !cancelled {
		t.Errorf("partial report does not show the cancelled run: %+v", d.Runs)
	}
}

func TestCompareRerenders(t *testing.T) {
	dir := t.TempDir()
	d, err := report.Compare(
		[]report.Variant{{Name: "patched/systrap/none", Kind: report.Patched, Platform: "systrap", Network: "none", DirectFS: "default"}},
		[]report.Run{
			{Guest: "storm", Variant: report.NativeVariant, Report: mustReport(t, `{"program":"storm","cases":[{"shape":"s","disposition":"restart","observed":{"result":"ok","handler_ran":true}}]}`)},
			{Guest: "storm", Variant: "patched/systrap/none", Report: mustReport(t, `{"program":"storm","cases":[{"shape":"s","disposition":"restart","observed":{"result":"EINTR","handler_ran":true}}]}`)},
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "report.json")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(f, d); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Unexpected patched divergence: non-zero.
	if err := runCompare(context.Background(), []string{"--in", in, "--out", filepath.Join(dir, "a")}); !errors.Is(err, errProblems) {
		t.Errorf("compare without expectations = %v, want errProblems", err)
	}
	exp := filepath.Join(dir, "expected.json")
	if err := os.WriteFile(exp, []byte(`[{"shape":"s","disposition":"*","kind":"patched","reason":"known"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runCompare(context.Background(), []string{"--in", in, "--expected", exp, "--out", filepath.Join(dir, "b")}); err != nil {
		t.Errorf("compare with the divergence expected = %v, want nil", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "b", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "yes: known") {
		t.Errorf("re-rendered markdown lacks the expectation:\n%s", md)
	}
}

func mustReport(t *testing.T, js string) *guestio.Report {
	t.Helper()
	r, err := guestio.Read(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
