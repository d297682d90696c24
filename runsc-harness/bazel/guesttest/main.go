// Command guesttest is the test executable of every variant the
// syscall_test macro (syscalltests/defs.bzl) declares. One invocation runs
// one variant of one guest program:
//
//	guesttest -mode native  -guest PATH -cases JSON
//	guesttest -mode stock   -guest PATH -runsc PATH -platform P -cases JSON
//	guesttest -mode patched -guest PATH -runsc PATH -platform P -cases JSON
//
// A case is one run of the guest with its own arguments (for the storm:
// -variant=sync-socket, -variant=exec-fifo); the cases are what Bazel's
// sharding spreads (TEST_TOTAL_SHARDS, TEST_SHARD_INDEX). For each case of
// its shard, a runsc variant runs the guest natively and under runsc
// through harness.Run, the loop of runsc-harness run itself: the guest's
// entry in the one guest registry (internal/guests, looked up by -name)
// gives its capabilities, namespaces and host FIFO. The two reports are
// compared cell by cell, with the expected divergences of -expected. The
// verdicts:
//
//   - native passes when the guest exits 0 with a report (the guest is given
//     its native_args, for the storm -strict: any EINTR, wrong byte or hang
//     makes it exit 1);
//   - patched passes when no cell diverges from the native run beyond the
//     -expected entries of kind patched, and no such entry is stale;
//   - stock passes when the cells its case lists in stock_diverges diverge
//     (the test proves it can see the bug) and no other cell does beyond
//     the -expected entries of kind stock.
//
// A failed run fails the test in every mode. JUnit XML goes to
// $XML_OUTPUT_FILE (one testcase per cell), the comparison as JSON to
// $TEST_UNDECLARED_OUTPUTS_DIR/CASE/ (report.json, report.md, junit.xml
// and the logs of every run).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/junit"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// Case is one run of the guest, as the macro describes it in -cases.
type Case struct {
	// Name names the case in test output and JUnit.
	Name string `json:"name"`
	// Args are the guest's arguments in every mode.
	Args []string `json:"args"`
	// NativeArgs are appended in native mode only.
	NativeArgs []string `json:"native_args"`
	// StockDiverges are the shapes stock runsc is known to get wrong in
	// this case, on the gVisor version the test runs: each must diverge in
	// at least one disposition.
	StockDiverges []string `json:"stock_diverges"`
	// StockMayDiverge lets stock runsc diverge in other cells too (it has
	// more bugs than the case pins); otherwise any other divergence fails.
	StockMayDiverge bool `json:"stock_may_diverge"`
}

type config struct {
	mode     string
	guest    string
	name     string
	runsc    string
	platform string
	network  string
	timeout  time.Duration
	expected []report.Expected
	cases    []Case
}

func parse(args []string) (*config, error) {
	fs := flag.NewFlagSet("guesttest", flag.ContinueOnError)
	c := &config{}
	fs.StringVar(&c.mode, "mode", "", "native, stock or patched")
	fs.StringVar(&c.guest, "guest", "", "guest binary (static)")
	fs.StringVar(&c.name, "name", "", "guest name in the guest registry (default: the binary's base name)")
	expected := fs.String("expected", "", "JSON file of expected divergences (the guest's expected.json)")
	fs.StringVar(&c.runsc, "runsc", "", "runsc binary (stock and patched modes)")
	fs.StringVar(&c.platform, "platform", "systrap", "runsc platform")
	fs.StringVar(&c.network, "network", "none", "runsc network")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "deadline of each run")
	cases := fs.String("cases", "", "JSON list of cases [{name, args, native_args, stock_diverges}]")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch c.mode {
	case "native":
	case "stock", "patched":
		if c.runsc == "" {
			return nil, fmt.Errorf("-mode %s needs -runsc", c.mode)
		}
	default:
		return nil, fmt.Errorf("-mode %q: want native, stock or patched", c.mode)
	}
	if c.guest == "" {
		return nil, errors.New("no -guest")
	}
	if c.name == "" {
		c.name = filepath.Base(c.guest)
	}
	if _, err := guests.Lookup(c.name); err != nil {
		return nil, fmt.Errorf("-name: %w", err)
	}
	if *expected != "" {
		var err error
		if c.expected, err = report.LoadExpected(*expected); err != nil {
			return nil, fmt.Errorf("-expected: %w", err)
		}
	}
	if err := json.Unmarshal([]byte(*cases), &c.cases); err != nil {
		return nil, fmt.Errorf("-cases: %w", err)
	}
	if len(c.cases) == 0 {
		return nil, errors.New("-cases lists no case")
	}
	seen := map[string]bool{}
	for _, k := range c.cases {
		if k.Name == "" || seen[k.Name] {
			return nil, fmt.Errorf("-cases: empty or repeated case name %q", k.Name)
		}
		seen[k.Name] = true
	}
	return c, nil
}

// shard returns the cases of this shard: case i belongs to shard
// i mod TEST_TOTAL_SHARDS. It touches TEST_SHARD_STATUS_FILE, telling Bazel
// that this runner knows about sharding.
func shard(cases []Case, env func(string) string) ([]Case, error) {
	if f := env("TEST_SHARD_STATUS_FILE"); f != "" {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return nil, err
		}
	}
	totalS, indexS := env("TEST_TOTAL_SHARDS"), env("TEST_SHARD_INDEX")
	if totalS == "" {
		return cases, nil
	}
	total, err := strconv.Atoi(totalS)
	if err != nil || total < 1 {
		return nil, fmt.Errorf("TEST_TOTAL_SHARDS=%q", totalS)
	}
	index, err := strconv.Atoi(indexS)
	if err != nil || index < 0 || index >= total {
		return nil, fmt.Errorf("TEST_SHARD_INDEX=%q with TEST_TOTAL_SHARDS=%d", indexS, total)
	}
	var mine []Case
	for i, c := range cases {
		if i%total == index {
			mine = append(mine, c)
		}
	}
	return mine, nil
}

// result is the verdict on one cell.
type result struct {
	caseName string
	shape    string
	disp     string
	failure  string // "" when the cell passes
	detail   string
}

// judge turns a comparison into per-cell results for mode.
func judge(mode string, k Case, d *report.Document) []result {
	var out []result
	// A run that failed fails the case as a whole.
	for _, r := range d.Runs {
		if r.Report == nil {
			out = append(out, result{caseName: k.Name, shape: "run", disp: r.Variant,
				failure: fmt.Sprintf("%s run failed: %s", r.Variant, r.Failure)})
		} else if mode == "native" && r.ExitCode != 0 {
			out = append(out, result{caseName: k.Name, shape: "run", disp: r.Variant,
				failure: fmt.Sprintf("native run exited %d (the guest's own check failed)", r.ExitCode)})
		}
	}
	want := map[string]bool{}
	for _, s := range k.StockDiverges {
		want[s] = true
	}
	seen, diverged := map[string]bool{}, map[string]bool{}
	for _, c := range d.Cells {
		seen[c.Shape] = true
		if mode == "native" {
			out = append(out, result{caseName: k.Name, shape: c.Shape, disp: c.Disposition,
				detail: "native " + report.Format(c.Native, nil)})
			continue
		}
		for _, o := range c.Outcomes {
			r := result{caseName: k.Name, shape: c.Shape, disp: c.Disposition,
				detail: fmt.Sprintf("native %s, runsc %s", report.Format(c.Native, o.Reasons), report.Format(o.Runsc, o.Reasons))}
			if len(o.Reasons) > 0 {
				r.detail += ": " + strings.Join(o.Reasons, "; ")
			}
			if o.Diverges {
				diverged[c.Shape] = true
			}
			switch {
			case o.Error != "":
				r.failure = o.Error
			case o.Diverges && o.Expected != "":
				r.detail += " (expected: " + o.Expected + ")"
			case o.Diverges && mode == "stock" && (want[c.Shape] || k.StockMayDiverge):
				r.detail += " (stock runsc's known bug)"
			case o.Diverges:
				r.failure = mode + " runsc diverges from native Linux"
			}
			out = append(out, r)
		}
	}
	for _, e := range d.Stale {
		out = append(out, result{caseName: k.Name, shape: e.Shape, disp: e.Disposition,
			failure: "expected divergence no longer diverges (remove it from expected.json): " + e.Reason})
	}
	if mode == "stock" {
		for _, s := range k.StockDiverges {
			switch {
			case !seen[s]:
				out = append(out, result{caseName: k.Name, shape: s, disp: "-",
					failure: "shape listed in stock_diverges is not in the guest's report"})
			case !diverged[s]:
				out = append(out, result{caseName: k.Name, shape: s, disp: "-",
					failure: "stock runsc was expected to diverge here (known bug) and did not: the test saw nothing"})
			}
		}
	}
	return out
}

// runCase runs one case natively and, unless mode is native, under runsc,
// through harness.Run.
func runCase(ctx context.Context, c *config, k Case, work string) (*report.Document, error) {
	o := harness.Options{
		Guests: []string{c.name}, GuestArgs: k.Args, Binaries: map[string]string{c.name: c.guest},
		Timeout: c.timeout, Out: filepath.Join(work, k.Name), Expected: c.expected, Log: os.Stderr,
		// runsc's control sockets live under the state root, whose path
		// must stay short: not under Bazel's long TEST_TMPDIR.
		StateParent: "/tmp",
	}
	if c.mode == "native" {
		o.GuestArgs = append(append([]string{}, k.Args...), k.NativeArgs...)
	} else {
		o.Runscs = []harness.Runsc{{Name: c.mode, Kind: report.Kind(c.mode), Path: c.runsc}}
		o.Variants = []sandbox.Variant{{Platform: c.platform, Network: c.network, DirectFS: "default"}}
	}
	return harness.Run(ctx, o)
}

func writeJUnit(w io.Writer, suite string, elapsed time.Duration, results []result) error {
	s := junit.Suite{Name: suite, Time: fmt.Sprintf("%.3f", elapsed.Seconds())}
	for _, r := range results {
		tc := junit.Case{Classname: suite + "." + r.caseName, Name: r.shape + " [" + r.disp + "]", SystemOut: r.detail}
		if r.failure != "" {
			tc.Failure = &junit.Message{Message: r.failure, Text: r.detail}
		}
		s.Cases = append(s.Cases, tc)
	}
	return junit.Write(w, &junit.Suites{Suites: []junit.Suite{s}})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "guesttest: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	start := time.Now()
	c, err := parse(args)
	if err != nil {
		return err
	}
	if c.mode != "native" {
		if err := sandbox.CheckRoot(); err != nil {
			return err
		}
	}
	mine, err := shard(c.cases, os.Getenv)
	if err != nil {
		return err
	}
	// Runfiles paths are relative to the test's working directory; runsc
	// and the bundle want absolute ones.
	if c.guest, err = filepath.Abs(c.guest); err != nil {
		return err
	}
	if c.runsc != "" {
		if c.runsc, err = filepath.Abs(c.runsc); err != nil {
			return err
		}
	}
	work := os.Getenv("TEST_UNDECLARED_OUTPUTS_DIR")
	if work == "" {
		if work, err = os.MkdirTemp("", "guesttest-"); err != nil {
			return err
		}
	}
	var results []result
	for _, k := range mine {
		d, err := runCase(ctx, c, k, work)
		if err != nil {
			results = append(results, result{caseName: k.Name, shape: "run", disp: c.mode, failure: err.Error()})
			continue
		}
		results = append(results, judge(c.mode, k, d)...)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].caseName < results[j].caseName })
	suite := c.name + "_" + c.mode
	if c.mode != "native" {
		suite += "_" + c.platform
	}
	if x := os.Getenv("XML_OUTPUT_FILE"); x != "" {
		f, err := os.Create(x)
		if err != nil {
			return err
		}
		werr := writeJUnit(f, suite, time.Since(start), results)
		if err := f.Close(); werr == nil {
			werr = err
		}
		if werr != nil {
			return werr
		}
	}
	var failed int
	for _, r := range results {
		status := "PASS"
		if r.failure != "" {
			status = "FAIL: " + r.failure
			failed++
		}
		fmt.Fprintf(stdout, "%-10s %-45s %s\n    %s\n", r.caseName, r.shape+" ["+r.disp+"]", status, r.detail)
	}
	names := make([]string, len(mine))
	for i, k := range mine {
		names[i] = k.Name
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d check(s) failed (cases %s)", suite, failed, len(results), strings.Join(names, ", "))
	}
	fmt.Fprintf(stdout, "%s: %d check(s) passed (cases %s)\n", suite, len(results), strings.Join(names, ", "))
	return nil
}
