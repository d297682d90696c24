// Package suite is `runsc-harness upstream suite`: gVisor's own
// test/syscalls/linux tests, compiled from a gVisor checkout with Debian's
// g++, GoogleTest and Abseil and the checkout's test/util (at build time,
// in a cache directory, never copied into this repository), run natively,
// under stock and under patched runsc of one snapshot. Its verdict: every
// case that passes on stock passes on patched.
package suite

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// NeedCheckout is the message for a missing --gvisor-src.
const NeedCheckout = "--gvisor-src is required: this command compiles the test/syscalls/linux tests of a gVisor source checkout " +
	"(git clone https://github.com/google/gvisor), which CI does not have; it never skips without one"

// config is the parsed command line.
type config struct {
	src, gvisor, cache, platform, jsonOut, commit, recordTo string
	sets                                                    cliflag.Series
	files                                                   cliflag.List
	runscs                                                  cliflag.Runscs
	jobs, shardSize                                         int
	nofile                                                  uint64
	timeout, caseTimeout, maxTime                           time.Duration
	record, compileOnly                                     bool
}

// parse reads args; help goes to stdout.
func parse(args []string, stdout io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("upstream suite", flag.ContinueOnError)
	fs.StringVar(&c.src, "gvisor-src", "", "gVisor source checkout whose test/syscalls/linux tests run (required)")
	fs.StringVar(&c.gvisor, "gvisor", "latest", "gVisor version whose stock and patched runsc run the tests: a module version, a date (YYYY-MM-DD) or latest")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE); compiled tests go to its upstream-suite/")
	fs.StringVar(&c.platform, "platform", "systrap", "runsc platform: systrap or ptrace")
	fs.Var(&c.files, "files", "test files to run, comma-separated target names or source names, with shell patterns (pipe_test, socket_unix_*, pipe.cc); default all")
	fs.IntVar(&c.jobs, "jobs", 1, "g++ processes and test runs at once (each bound separately)")
	fs.IntVar(&c.shardSize, "shard-size", 100, "most cases one process or sandbox runs")
	fs.Uint64Var(&c.nofile, "nofile", 70000, "RLIMIT_NOFILE of the tests (pipe_test's PipeFdCount needs about 66000)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Minute, "deadline of one shard; a shard past it is killed, and its cases without a result run alone")
	fs.DurationVar(&c.caseTimeout, "case-timeout", 2*time.Minute, "deadline of one case run alone; a case past it is a hang")
	fs.StringVar(&c.jsonOut, "json", "", "write the result (as the record --record keeps) to this file")
	fs.BoolVar(&c.record, "record", false, "merge the result into docs/upstream-suite.json, which docs/upstreaming.md shows (`runsc-harness docs`)")
	fs.StringVar(&c.recordTo, "record-to", "", "with --record, merge into this file instead of docs/upstream-suite.json")
	fs.DurationVar(&c.maxTime, "max-time", 0, "start no further test file after this long (0: no limit); the files left are reported as not run")
	fs.StringVar(&c.commit, "commit", "", "the gVisor commit the checkout holds, for the record (default: git rev-parse HEAD in --gvisor-src)")
	fs.BoolVar(&c.compileOnly, "compile-only", false, "compile and report which files compile; run nothing, no verdict")
	fs.Var(&c.runscs, "runsc", "use this runsc instead of building --gvisor's, as NAME=PATH; give stock=PATH and patched=PATH together")
	c.sets.Register(fs)
	c.sets.Sets = "core,parity"
	fs.Lookup("sets").DefValue = c.sets.Sets
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness upstream suite --gvisor-src DIR [--gvisor V] [--sets core,parity] [--files LIST] [--jobs N] [--json FILE] [--record]\n\n"+
			"Compiles the test/syscalls/linux tests of a gVisor checkout (each cc_binary of its BUILD that depends on GoogleTest or on test/util:test_main)\n"+
			"with g++, GoogleTest, GoogleMock and Abseil from Debian and the checkout's own test/util, and runs every case\n"+
			"natively, under stock and under patched runsc of --gvisor, in shards (one process or sandbox per shard,\n"+
			"--network=none, TEST_ON_GVISOR set), results read from gtest's XML report. Files that do not compile are\n"+
			"reported with their first error. Exit 0 only if every case that passes on stock passes on patched.\n\n")
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return nil, cliflag.ErrHelp
	case err != nil:
		return nil, cliflag.UsageError{Err: err}
	case fs.NArg() > 0:
		return nil, cliflag.Usagef("unexpected argument(s): %s", strings.Join(fs.Args(), " "))
	case c.src == "":
		return nil, cliflag.Usagef("%s", NeedCheckout)
	case c.jobs < 1 || c.shardSize < 1:
		return nil, cliflag.Usagef("--jobs and --shard-size must be at least 1")
	case c.timeout <= 0 || c.caseTimeout <= 0 || c.maxTime < 0:
		return nil, cliflag.Usagef("--timeout and --case-timeout must be positive, --max-time not negative")
	}
	if err := checkRunscs(c.runscs); err != nil {
		return nil, err
	}
	if v := (sandbox.Variant{Platform: c.platform, Network: "none", DirectFS: "default"}); v.Validate() != nil {
		return nil, cliflag.Usagef("--platform: %v", v.Validate())
	}
	if err := gvisor.CheckSpecs(c.gvisor, false); err != nil {
		return nil, cliflag.Usagef("--gvisor: %v", err)
	}
	for _, pat := range c.files.Vals {
		if _, err := filepath.Match(pat, ""); err != nil {
			return nil, cliflag.Usagef("--files: bad pattern %q", pat)
		}
	}
	if _, err := os.Stat(filepath.Join(c.src, "test", "syscalls", "linux", "BUILD")); err != nil {
		return nil, cliflag.Usagef("--gvisor-src %s is not a gVisor checkout (no test/syscalls/linux/BUILD): %v", c.src, err)
	}
	return c, nil
}

// Main runs `upstream suite` with its flags args, printing the table on
// stdout and progress on stderr. Its errors follow cliflag's contract: a
// cliflag.UsageError for a bad command line (a missing --gvisor-src
// included), cliflag.ErrHelp after --help, any other error for a failed
// verdict or run.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stdout)
	if err != nil {
		return err
	}
	if c.commit == "" {
		out, err := exec.Command("git", "-C", c.src, "rev-parse", "HEAD").Output()
		if err != nil {
			return fmt.Errorf("--commit not given and git rev-parse HEAD in %s failed: %v", c.src, err)
		}
		c.commit = strings.TrimSpace(string(out))
	}
	return run(ctx, c, args, stdout, stderr)
}
