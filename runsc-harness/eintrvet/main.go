// Command eintrvet is a go/analysis checker suite for the EINTR bug class
// behind restartsys: identity comparisons of interrupt errors
// (intrcompare), EINTR-prone syscalls whose error is not retried
// (unretried), and thread-scoped namespace syscalls without a locked OS
// thread (threadns).
//
// Standalone (loads packages itself):
//
//	eintrvet ./...
//	eintrvet -fix ./...          # apply intrcompare's suggested fixes
//	eintrvet -intrcompare ./...  # run only the named pass(es)
//
// As a vet tool (unitchecker protocol, one package per process):
//
//	go vet -vettool=$(which eintrvet) ./...
//
// A finding is suppressed, with a required reason, by
// `//eintrvet:ignore PASS[,PASS] REASON` at the end of its line or alone on
// the line before it (see internal/ignore).
//
// The analyzers are exported as intrcompare.Analyzer, unretried.Analyzer and
// threadns.Analyzer for Bazel nogo or any other driver; they take no flags
// and neither exports nor imports facts. See README.md.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/intrcompare"
	"github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/threadns"
	"github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/unretried"
)

func main() {
	multichecker.Main(intrcompare.Analyzer, unretried.Analyzer, threadns.Analyzer)
}
