// Command skipcheck reads `go test -json` output on standard input, prints
// the tests' output (the lines `go test -v` would print, down to the final
// "ok" and "FAIL" package lines) on standard output, and at the end exits
// 1 if a test was skipped that the allow-list does not name, if a test or
// package failed, if a package did not build, or if the input holds no
// package result; each offending skip is printed with its skip message.
//
// Usage (from the repository root):
//
//	go test -json ./... 2>&1 | go run ./runsc-harness/internal/testjson/cmd/skipcheck [-allow .ci/skip-allowlist]
//
// The allow-list has one entry a line, `package-import-path TestName  #
// reason`; an entry also allows its subtests' skips. Exit status: 0 pass,
// 1 the tests did not pass as required, 2 usage error or unreadable
// input or allow-list.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/testjson"
)

const usage = "usage: go test -json PACKAGES 2>&1 | skipcheck [-allow FILE]"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the command with its arguments and streams; it returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("skipcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allowPath := fs.String("allow", ".ci/skip-allowlist", "the allow-list `file` of tests that may skip")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "skipcheck: unexpected argument %q\n%s\n", fs.Arg(0), usage)
		return 2
	}
	f, err := os.Open(*allowPath)
	if err != nil {
		fmt.Fprintf(stderr, "skipcheck: %v\n", err)
		return 2
	}
	allow, err := testjson.ParseAllowList(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "skipcheck: %s: %v\n", *allowPath, err)
		return 2
	}
	out := bufio.NewWriter(stdout)
	res, err := testjson.Check(stdin, out, allow)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "skipcheck: %v\n", err)
		return 2
	}
	allowed := 0
	for _, s := range res.Skips {
		if s.Allowed != "" {
			allowed++
			fmt.Fprintf(stderr, "skipcheck: allowed skip: %s (%s): %s\n", s.Key, s.Allowed, s.Message)
		}
	}
	for _, k := range res.Unused {
		fmt.Fprintf(stderr, "skipcheck: note: allow-listed %s did not skip\n", k)
	}
	probs := res.Problems()
	for _, p := range probs {
		fmt.Fprintf(stderr, "skipcheck: %s\n", p)
	}
	fmt.Fprintf(stderr, "skipcheck: %d package(s), %d skip(s) (%d allowed), %d problem(s)\n",
		res.Packages, len(res.Skips), allowed, len(probs))
	if len(probs) > 0 {
		return 1
	}
	return 0
}
