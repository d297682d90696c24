package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite"
)

func init() {
	register(&command{
		name:     "upstream",
		synopsis: "upstream verify|derive|suite: the syscall tests of patches/upstream natively, under stock and patched runsc; the snapshot patches derived from it; gVisor's own syscall suite from a checkout",
		run:      runUpstream,
		helpArgs: []string{"verify", "--help"},
	})
}

func runUpstream(ctx context.Context, args []string) error {
	sub, rest := "verify", args // verify is the default subcommand
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, rest = args[0], args[1:]
	}
	switch {
	case len(args) == 0:
	case sub == "verify":
		return upstreamVerify(ctx, rest)
	case sub == "derive":
		return upstreamDerive(rest)
	case sub == "suite":
		return suite.Main(ctx, rest, os.Stdout, os.Stderr)
	}
	return cliflag.Usagef(`want "upstream verify|derive|suite [flags]"`)
}

func upstreamDerive(args []string) error {
	fs := flag.NewFlagSet("upstream derive", flag.ContinueOnError)
	check := fs.Bool("check", false, "do not write: fail if a derived patch on disk differs from what would be generated")
	cliflag.SetUsage(fs, "upstream derive [--check]", "Generates the snapshot patches of patches/series.json that patches/upstream/series.json derives from the\n"+
		"upstream patches (BUILD and test/ hunks left out, declare_mutex and refs template output ported, stateify output updated) and writes them over the series' files.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	root, err := guests.RepoRoot(".")
	if err != nil {
		return err
	}
	return harness.DeriveUpstream(context.Background(), root, *check, os.Stderr)
}

func upstreamVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream verify", flag.ContinueOnError)
	gv := fs.String("gvisor", defaultGVisor, "gVisor version whose stock and patched runsc run the tests: a module version, a date (YYYY-MM-DD) or latest")
	cache := fs.String("cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE)")
	platform := fs.String("platform", "systrap", "runsc platform: systrap or ptrace")
	timeout := fs.Duration("timeout", time.Minute, "deadline of one test case in one place; a case past it is killed and reported as a hang")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	junitOut := fs.String("junit", "", "write the result as JUnit XML to this file")
	record := fs.Bool("record", false, "record the result in docs/"+upstream.RecordFile+" and regenerate docs/upstreaming.md from it")
	work := fs.String("work", "", "directory for the generated sources and test binaries (default: a temporary one, removed)")
	var sf cliflag.Series
	sf.RegisterSets(fs, "core,parity") // the cases of every upstream patch need its set
	cliflag.SetUsage(fs, "upstream verify [--gvisor V] [--sets core,parity] [--platform systrap] [--timeout D] [--json FILE] [--junit FILE] [--record]",
		"Extracts the test cases each patch of patches/upstream adds to test/syscalls/linux, compiles them with g++\n"+
			"against syscalltests/gvisortest, and runs each case natively, under stock and under patched runsc of --gvisor\n"+
			"(one sandbox per case, --network=none, TEST_ON_GVISOR set). Exit 0 only if every case passes natively and on\n"+
			"patched, and every case written for a bug fails on stock of a version with that bug.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := platformVariant(*platform); err != nil {
		return err
	}
	if err := checkGVisorSpec("gvisor", *gv, false); err != nil {
		return err
	}
	if *timeout <= 0 {
		return cliflag.Usagef("--timeout: must be positive")
	}
	ser, _, err := sf.Load()
	if err != nil {
		return err
	}
	root, err := guests.RepoRoot(".")
	if err != nil {
		return err
	}
	res, err := harness.VerifyUpstream(ctx, harness.UpstreamOptions{
		Spec: *gv, Series: ser, Sets: sf.SetList(), Cache: *cache, Platform: *platform,
		Timeout: *timeout, WorkDir: *work, RepoRoot: root, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	res.WriteTable(os.Stdout)
	if err := res.WriteFiles(*jsonOut, *junitOut); err != nil {
		return err
	}
	if *record {
		rec := upstream.Record{Measured: time.Now().UTC().Format("2006-01-02"), Result: res,
			Command: "runsc-harness upstream verify --gvisor " + *gv + " --sets " + sf.Sets + " --platform " + *platform}
		docSeries, docSel, err := (&cliflag.Series{Sets: "core"}).Load() // the docs command's default
		if err == nil {
			err = harness.RecordUpstream(ctx, filepath.Join(root, "docs"), rec, docSeries, docSel, os.Stderr)
		}
		if err != nil {
			return err
		}
	}
	if !res.OK() {
		return errors.New("upstream verify: some case is not as expected (see the table)")
	}
	return nil
}
