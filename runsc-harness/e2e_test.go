package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e/docker"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/testrunsc"
)

// e2eCITimes is the number of `runc run` and of `runc exec -d` the CI test
// makes per runsc under the storm: stock fails every one of them on
// 2026-05-18, so a few suffice to see the field error, and patched has to
// pass them all. `runsc-harness e2e runc --runs 500 --execs 500` is the
// large run.
const e2eCITimes = 12

// TestE2ERuncStorm runs real runc v1.2.5 inside stock and patched runsc of
// gVisor 2026-05-18 under a SIGURG storm: stock must fail with the exact
// error from the field, patched must not fail at all.
func TestE2ERuncStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds runc and runs it inside runsc")
	}
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	stock, patched := testrunsc.Stock(t), testrunsc.Patched(t)
	out := t.TempDir()
	c := &e2eConfig{
		run: runConfig{
			Options: harness.Options{
				Runscs: []harness.Runsc{
					{Name: "stock", Kind: report.Stock, Path: stock},
					{Name: "patched", Kind: report.Patched, Path: patched},
				},
				Out: out,
			},
			cache: build.DefaultCacheDir(),
		},
		suite: e2e.SuiteOptions{
			RuncVersion:   e2e.DefaultRuncVersion,
			Platform:      "systrap",
			Runs:          e2eCITimes,
			Execs:         e2eCITimes,
			Modes:         []e2e.Mode{e2e.ModeStorm},
			StormInterval: 200 * time.Microsecond,
			OpTimeout:     30 * time.Second,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	doc := runE2EWithReports(ctx, t, c, out)
	for _, r := range doc.Results {
		if r.Failure != "" {
			t.Errorf("%s: sandbox run failed: %s", r.Name, r.Failure)
		}
		for _, op := range e2e.Ops {
			s := r.Stat(op, e2e.ModeStorm)
			if s == nil || s.Runs != e2eCITimes {
				t.Errorf("%s: %s under the storm: got %+v, want %d runs", r.Name, op, s, e2eCITimes)
				continue
			}
			if s.Setup != "" {
				t.Errorf("%s: %s: setup failed: %s", r.Name, op, s.Setup)
			}
			switch r.Kind {
			case report.Stock:
				field := 0
				for msg, n := range s.Errors {
					if strings.Contains(msg, e2e.FieldError) {
						field += n
					}
				}
				if field == 0 {
					t.Errorf("stock: %s under the storm: %d of %d failed, none with the field error %q; errors: %v",
						op, s.Failures, s.Runs, e2e.FieldError, s.Errors)
				}
			case report.Patched:
				if s.Failures != 0 {
					t.Errorf("patched: %s under the storm: %d of %d failed: %v", op, s.Failures, s.Runs, s.Errors)
				}
			}
		}
	}
	if p := doc.Problems(); len(p) > 0 {
		t.Errorf("problems: %q", p)
	}
}

func TestParseE2EFlags(t *testing.T) {
	c, err := parseE2EFlags([]string{"runc"})
	if err != nil || c.run.gvisor != defaultGVisor || c.label || len(c.suite.Modes) != 3 || c.suite.RuncVersion != e2e.DefaultRuncVersion {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	// --runsc alone builds nothing; with an explicit --gvisor, that only
	// labels the report.
	c, err = parseE2EFlags([]string{"runc", "--runsc", "patched=/bin/true"})
	if err != nil || c.run.gvisor != "" || !c.label {
		t.Errorf("--runsc: %+v, %v", c, err)
	}
	c, err = parseE2EFlags([]string{"runc", "--runsc", "patched=/bin/true", "--gvisor", "2026-05-18"})
	if err != nil || c.run.gvisor != "2026-05-18" || !c.label {
		t.Errorf("--runsc --gvisor: %+v, %v", c, err)
	}
	// Each client has its defaults: docker execs under plain and storm;
	// containerd needs --gvisor (its shim is built from that snapshot).
	c, err = parseE2EFlags([]string{"docker", "--execs", "20"})
	if err != nil || c.client != "docker" || c.suite.Execs != 20 || c.suite.Runs != 0 || len(c.suite.Modes) != 2 {
		t.Errorf("docker: %+v, %v", c, err)
	}
	c, err = parseE2EFlags([]string{"containerd"})
	if err != nil || c.client != "containerd" || c.suite.Execs == 0 || len(c.suite.Modes) != 1 {
		t.Errorf("containerd: %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{},
		{"podman"},
		{"docker", "--modes", "asyncpreemptoff"},
		{"containerd", "--runsc", "patched=/bin/true"},
		{"runc", "--modes", "hurricane"},
		{"runc", "--runs", "0", "--execs", "0"},
		{"runc", "--platform", "kvm9"},
		{"runc", "extra"},
	} {
		if _, err := parseE2EFlags(bad); err == nil {
			t.Errorf("parseE2EFlags(%q) accepted", bad)
		}
	}
}

// e2eDockerCITimes is the number of docker exec per runsc the CI test
// makes under the storm: stock fails nearly all of them on 2026-05-18.
// `runsc-harness e2e docker --execs 500 --modes storm` is the large run.
const e2eDockerCITimes = 20

// TestE2EDockerStorm runs the field's topology: a host dockerd with stock
// and patched runsc of gVisor 2026-05-18 as runtimes, a Docker-in-Docker
// container under each, and sequential docker exec inside under a SIGURG
// storm on runc's threads. Stock must fail with the field error, and
// dockerd must log it; patched must not fail at all.
func TestE2EDockerStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dockerd and runs Docker-in-Docker under runsc")
	}
	if err := sandbox.CheckRoot(); err != nil {
		t.Fatal(err) // CI runs as root: this test must not skip there
	}
	if err := docker.CheckHost(); err != nil {
		t.Fatal(err)
	}
	stock, patched := testrunsc.Stock(t), testrunsc.Patched(t)
	out := t.TempDir()
	c, err := parseE2EFlags([]string{"docker", "--modes", "storm", "--execs", fmt.Sprint(e2eDockerCITimes),
		"--runsc", "stock=" + stock, "--runsc", "patched=" + patched, "--gvisor", testrunsc.Version, "--out", out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	doc := runE2EWithReports(ctx, t, c, out)
	for _, r := range doc.Results {
		s := r.Stat(e2e.OpExec, e2e.ModeStorm)
		switch {
		case r.Failure != "":
			t.Errorf("%s: %s", r.Name, r.Failure)
		case s == nil || s.Runs != e2eDockerCITimes || s.Setup != "":
			t.Errorf("%s: docker exec under the storm: got %+v, want %d execs", r.Name, s, e2eDockerCITimes)
		case r.Kind == report.Stock && (s.DaemonLines == 0 || !strings.Contains(s.DaemonSample, e2e.FieldError)):
			t.Errorf("stock: %d of %d docker exec failed, dockerd logged the field message %d times; errors: %v", s.Failures, s.Runs, s.DaemonLines, s.Errors)
		case r.Kind == report.Patched && s.Failures != 0:
			t.Errorf("patched: %d of %d docker exec failed: %v", s.Failures, s.Runs, s.Errors)
		}
	}
	if p := doc.Problems(); len(p) > 0 {
		t.Errorf("problems: %q", p)
	}
}

// runE2EWithReports runs the e2e suite of c, logs its table, and checks
// that it wrote its three reports into out and has a stock and a patched
// result.
func runE2EWithReports(ctx context.Context, t *testing.T, c *e2eConfig, out string) *e2e.Document {
	t.Helper()
	doc, err := e2eRun(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	e2e.WriteTable(&table, doc)
	t.Log(table.String())
	for _, name := range []string{"e2e.json", "e2e.md", "e2e-junit.xml"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("report %s: %v", name, err)
		}
	}
	if len(doc.Results) != 2 {
		t.Fatalf("%d results, want 2 (stock, patched)", len(doc.Results))
	}
	return doc
}
