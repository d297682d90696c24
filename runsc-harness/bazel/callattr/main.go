// Command callattr prints a string attribute of the single call of a
// function in a Starlark file (WORKSPACE, MODULE.bazel, a .bzl or BUILD
// file), read with buildtools' parser. setup.sh uses it to read which
// gVisor version and patch sets WORKSPACE's runsc_repositories names.
//
// Usage:
//
//	go run ./runsc-harness/bazel/callattr [-default V] FILE FUNCTION ATTR
//
// With -default, a call without ATTR prints V; every other problem (no such
// file, a syntax error, no call or several, a value that is not a string
// literal) exits 1 with a message.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/bazel"
)

func main() {
	def := flag.String("default", "", "what to print when the call has no such attribute (an error when unset)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: callattr [-default V] FILE FUNCTION ATTR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 3 {
		flag.Usage()
		os.Exit(2)
	}
	file, fn, attr := flag.Arg(0), flag.Arg(1), flag.Arg(2)
	src, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "callattr: %v\n", err)
		os.Exit(1)
	}
	v, err := bazel.CallAttr(src, fn, attr)
	if err != nil {
		var missing *bazel.MissingAttrError
		if *def == "" || !errors.As(err, &missing) {
			fmt.Fprintf(os.Stderr, "callattr: %s: %v\n", file, err)
			os.Exit(1)
		}
		v = *def
	}
	fmt.Println(v)
}
