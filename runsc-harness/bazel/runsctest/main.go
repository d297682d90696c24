// Command runsctest is the test executable of every variant the runsc_test
// macro (syscalltests/defs.bzl) declares: it runs any test binary (a
// cc_test, go_test or sh_test of the user's) natively, or inside a runsc
// sandbox, and passes or fails by the test's own exit status.
//
//	runsctest -- TEST [ARGS...]                                  natively
//	runsctest -runsc PATH -kind K -platform P [-expect-failure-on K] -- TEST  under runsc
//
// Under runsc the container's root is the host's root directory, read-only
// (the test finds its runfiles and shared libraries where Bazel put them),
// its working directory and environment are the test's own (sharding,
// TEST_TMPDIR, XML_OUTPUT_FILE), and the directories Bazel gives the test
// to write in are bind-mounted writable. The test's output goes to this
// process's stdout and stderr, so Bazel's test.log and the test's own JUnit
// XML are what they would be natively. With -expect-failure-on naming this
// variant's -kind (stock, for a test written for a bug stock runsc has) the
// verdict is inverted: the variant passes only if the test fails, which
// shows that the test can see the bug.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// writableEnv name the files and directories Bazel gives a test to write:
// a directory, or (for the *_FILE ones) the directory of the file.
var writableEnv = []string{
	"TEST_TMPDIR", "TEST_UNDECLARED_OUTPUTS_DIR", "TEST_UNDECLARED_OUTPUTS_ANNOTATIONS_DIR",
	"XML_OUTPUT_FILE", "TEST_SHARD_STATUS_FILE", "TEST_PREMATURE_EXIT_FILE",
	"TEST_WARNINGS_OUTPUT_FILE", "TEST_INFRASTRUCTURE_FAILURE_FILE",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsctest: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run runs the test and returns the exit status of this process.
func run(ctx context.Context, args []string, env func(string) string) (int, error) {
	fs := flag.NewFlagSet("runsctest", flag.ContinueOnError)
	runsc := fs.String("runsc", "", "runsc binary; natively when empty")
	platform := fs.String("platform", "systrap", "runsc platform")
	kind := fs.String("kind", "", "kind of the runsc: stock or patched")
	failOn := fs.String("expect-failure-on", "", "kind of runsc under which the test must fail (stock, for a test of a bug stock runsc has)")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, errors.New("no test to run (want: runsctest [flags] -- TEST [ARGS...])")
	}
	test, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return 0, err
	}
	argv := append([]string{test}, fs.Args()[1:]...)
	var code int
	if *runsc == "" {
		code, err = runNative(ctx, argv)
	} else {
		code, err = runUnder(ctx, *runsc, *platform, argv, env)
	}
	if err != nil {
		return 0, err
	}
	if *failOn == "" || *failOn != *kind {
		return code, nil
	}
	if code == 0 {
		fmt.Fprintln(os.Stderr, "runsctest: the test passed under this runsc, which has the bug it tests for: it cannot see the bug")
		return 1, nil
	}
	fmt.Fprintf(os.Stderr, "runsctest: the test failed (exit %d) under this runsc, as it must: it sees the bug\n", code)
	return 0, nil
}

// runNative runs the test as a child with this process's environment and
// standard streams.
func runNative(ctx context.Context, argv []string) (int, error) {
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		return 0, err
	}
	go func() {
		<-ctx.Done()
		p.Kill()
	}()
	st, err := p.Wait()
	if err != nil {
		return 0, err
	}
	return st.ExitCode(), nil
}

// runUnder runs the test in a runsc sandbox whose root is the host's, and
// copies its output to this process's.
func runUnder(ctx context.Context, runsc, platform string, argv []string, env func(string) string) (int, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return 0, err
	}
	abs, err := filepath.Abs(runsc)
	if err != nil {
		return 0, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	var binds []oci.Bind
	seen := map[string]bool{}
	for _, name := range writableEnv {
		p := env(name)
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			p = filepath.Dir(p)
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() && !seen[p] {
			seen[p] = true
			binds = append(binds, oci.Bind{Source: p, Destination: p})
		}
	}
	// runsc's control sockets live under the state root, whose path must
	// stay short: not under Bazel's long TEST_TMPDIR.
	sb, err := sandbox.NewStateBase("/tmp")
	if err != nil {
		return 0, err
	}
	defer sb.Close()
	rt, err := sb.Runtime("runsc", abs)
	if err != nil {
		return 0, err
	}
	bundle, logs := filepath.Join(sb.Dir, "bundle"), filepath.Join(sb.Dir, "logs")
	if d := env("TEST_UNDECLARED_OUTPUTS_DIR"); d != "" {
		logs = filepath.Join(d, "runsc-logs")
	}
	if _, err := oci.Write(bundle, oci.Options{HostRoot: true, Command: argv, Cwd: cwd, Env: os.Environ(), Binds: binds}); err != nil {
		return 0, err
	}
	res, err := sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: abs, StateRoot: rt.StateRoot, Bundle: bundle, LogDir: logs,
		Variant: sandbox.Variant{Platform: platform, Network: "none", DirectFS: "default"},
		Timeout: testTimeout(env),
	})
	if err != nil {
		return 0, err
	}
	copyOut(os.Stdout, res.Stdout)
	copyOut(os.Stderr, res.Stderr)
	if f := res.Failure(); f != "" {
		return 0, fmt.Errorf("under %s: %s", runsc, f)
	}
	return res.ExitCode, nil
}

// testTimeout is Bazel's TEST_TIMEOUT less a margin for cleanup, or five
// minutes.
func testTimeout(env func(string) string) time.Duration {
	if s, err := strconv.Atoi(env("TEST_TIMEOUT")); err == nil && s > 30 {
		return time.Duration(s-15) * time.Second
	}
	return 5 * time.Minute
}

func copyOut(w io.Writer, b []byte) { _, _ = w.Write(b) }
