package suite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
)

const testBuild = `
load("//tools:defs.bzl", "cc_binary", "cc_library", "gbenchmark", "select_gtest", "select_system")

cc_library(
    name = "pair_util",
    testonly = 1,
    srcs = ["pair_util.cc", "pair_util.h"],
    deps = [":base_util", "//test/util:test_util"],
)

cc_library(
    name = "base_util",
    srcs = ["base_util.cc"],
    defines = select_system(),
)

cc_binary(
    name = "pipe_test",
    srcs = ["pipe.cc"],
    malloc = "//test/util:errno_safe_allocator",
    deps = select_gtest() + [
        ":pair_util",
        "//test/util:test_main",
        "@com_google_absl//absl/time",
    ],
)

cc_binary(
    name = "own_main_test",
    srcs = ["own_main.cc"],
    deps = select_gtest() + [gbenchmark, "//test/util:test_util"],
)

cc_binary(
    name = "arm_only_test",
    srcs = select_arch(amd64 = [], arm64 = ["arm.cc"]),
    deps = select_gtest() + ["//test/util:test_main"],
)

cc_binary(
    name = "elsewhere_test",
    srcs = ["elsewhere.cc"],
    deps = select_gtest() + ["//test/util:test_main", "//test/other:lib"],
)

cc_binary(
    name = "mq_test",
    testonly = 1,
    srcs = ["mq.cc"],
    deps = [
        "//test/util:test_main",
        "//test/util:test_util",
    ],
)

cc_binary(
    name = "workload",
    srcs = ["workload.cc"],
)
`

func TestParseBuild(t *testing.T) {
	got, err := ParseBuild("BUILD", []byte(testBuild), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	want := []*Target{
		{Name: "arm_only_test", Problem: "no source for amd64"},
		{Name: "elsewhere_test", Srcs: []string{"elsewhere.cc"}, Main: []string{"elsewhere.cc"}, Problem: "depends on //test/other:lib, outside test/util"},
		{Name: "mq_test", Srcs: []string{"mq.cc"}, Main: []string{"mq.cc"}},
		{Name: "own_main_test", Srcs: []string{"own_main.cc"}, Main: []string{"own_main.cc"}},
		{Name: "pipe_test", Srcs: []string{"pipe.cc", "pair_util.cc", "base_util.cc"}, Main: []string{"pipe.cc"}, Defines: []string{"__linux__"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseBuild (-want +got):\n%s", d)
	}
	if _, err := ParseBuild("BUILD", []byte(`cc_binary(name = "x", srcs = glob(["*.cc"]), deps = [])`), "amd64"); err == nil {
		t.Error("ParseBuild accepted glob(), which it cannot evaluate")
	}
}

const listXML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" name="AllTests">
  <testsuite name="PipeTest" tests="2">
    <testcase name="Flags" file="pipe.cc" line="10" />
    <testcase name="DISABLED_Slow" file="pipe.cc" line="20" />
  </testsuite>
  <testsuite name="Pipes/PipeTest" tests="2">
    <testcase name="Write/pipe" value_param="..." file="pipe.cc" line="30" />
    <testcase name="Write/named" value_param="..." file="pipe.cc" line="30" />
  </testsuite>
  <testsuite name="DISABLED_Whole" tests="1">
    <testcase name="A" file="pipe.cc" line="40" />
  </testsuite>
</testsuites>`

const resultXML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1" disabled="1" errors="0" time="0.1" name="AllTests">
  <testsuite name="PipeTest" tests="3" failures="1" disabled="1" skipped="1">
    <testcase name="Flags" status="run" result="completed" time="0." classname="PipeTest" />
    <testcase name="Fails" status="run" result="completed" time="0." classname="PipeTest">
      <failure message="pipe.cc:12&#x0A;Expected equality" type=""><![CDATA[pipe.cc:12
Expected equality]]></failure>
    </testcase>
    <testcase name="Skips" status="run" result="skipped" time="0." classname="PipeTest">
      <skipped message="pipe.cc:14&#x0A;needs root"><![CDATA[needs root]]></skipped>
    </testcase>
    <testcase name="DISABLED_Slow" status="notrun" result="suppressed" time="0" classname="PipeTest" />
  </testsuite>
  <testsuite name="Pipes/PipeTest" tests="1">
    <testcase name="Write/pipe" value_param="..." status="run" result="completed" time="0." classname="Pipes/PipeTest" />
  </testsuite>
</testsuites>`

func TestParseXML(t *testing.T) {
	cases, err := ParseList([]byte(listXML))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"PipeTest.Flags", "Pipes/PipeTest.Write/pipe", "Pipes/PipeTest.Write/named"}, cases); d != "" {
		t.Errorf("ParseList (-want +got):\n%s", d)
	}
	res, err := ParseResults([]byte(resultXML))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]suitereport.Status{
		"PipeTest.Flags": suitereport.Pass, "PipeTest.Fails": suitereport.Fail,
		"PipeTest.Skips": suitereport.Skip, "Pipes/PipeTest.Write/pipe": suitereport.Pass,
	}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("ParseResults (-want +got):\n%s", d)
	}
	if _, err := ParseResults([]byte("[==========] 3 tests ran")); err == nil {
		t.Error("ParseResults accepted gtest's text output")
	}
}

func TestShards(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cases     []string
		size, max int
		want      [][]string
	}{
		{"by size", []string{"a.1", "a.2", "a.3"}, 2, 100, [][]string{{"a.1", "a.2"}, {"a.3"}}},
		{"by filter length", []string{"a.1", "a.2", "a.3"}, 10, 8, [][]string{{"a.1", "a.2"}, {"a.3"}}},
		{"one long name", []string{"aaaaaaaaaaaa.1"}, 10, 4, [][]string{{"aaaaaaaaaaaa.1"}}},
		{"none", nil, 10, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, Shards(tc.cases, tc.size, tc.max)); d != "" {
				t.Errorf("Shards (-want +got):\n%s", d)
			}
		})
	}
	if got := Filter([]string{"A.b", "P/A.c/0"}); got != "A.b:P/A.c/0" {
		t.Errorf("Filter = %q", got)
	}
}

func TestSelect(t *testing.T) {
	ts := []*Target{{Name: "pipe_test", Main: []string{"pipe.cc"}}, {Name: "socket_unix_pair_test", Main: []string{"socket_unix_pair.cc"}}, {Name: "open_test", Main: []string{"open.cc"}}}
	names := func(ts []*Target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return out
	}
	for _, tc := range []struct {
		pats []string
		want []string
	}{
		{nil, []string{"pipe_test", "socket_unix_pair_test", "open_test"}},
		{[]string{"socket_unix_*", "open.cc"}, []string{"socket_unix_pair_test", "open_test"}},
	} {
		got, err := Select(ts, tc.pats)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, names(got)); d != "" {
			t.Errorf("Select(%q) (-want +got):\n%s", tc.pats, d)
		}
	}
	var ue cliflag.UsageError
	if _, err := Select(ts, []string{"pipe_test", "nosuch_test"}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "nosuch_test") {
		t.Errorf("Select with a pattern that matches nothing: %v, want a usage error naming it", err)
	}
}

func TestFixupsAndErrors(t *testing.T) {
	src := []byte("a\n    std::vector<std::string_view> tags = absl::StrSplit(e.optional, ' ');\nb\n")
	got, fixed := applyFixups("test/util/mount_util.cc", src)
	if !fixed || !bytes.Contains(got, []byte("std::vector<std::string> tags")) {
		t.Errorf("mount_util.cc fixup not applied: %s", got)
	}
	if _, fixed := applyFixups("test/util/other.cc", src); fixed {
		t.Error("fixup applied to another file")
	}
	out := "/src/test/a.cc: In function 'f':\n/src/test/a.cc:3:1: error: no matching function\nnote: candidate\n"
	if got := firstError(out, "/src"); got != "test/a.cc:3:1: error: no matching function" {
		t.Errorf("firstError = %q", got)
	}
	link := "/usr/bin/ld: x.o: in function `main':\ntest_main.cc:(.text+0x0): multiple definition of `main'\ncollect2: error: ld returned 1 exit status\n"
	if got := firstError(link, "/src"); !strings.Contains(got, "multiple definition of `main'") {
		t.Errorf("firstError of a link = %q", got)
	}
}

// TestMainNeedsCheckout: without --gvisor-src the command fails (a usage
// error, exit 2) saying what it needs; it never skips.
func TestMainNeedsCheckout(t *testing.T) {
	for _, args := range [][]string{nil, {"--gvisor", "latest"}, {"--gvisor-src", t.TempDir()}} {
		var stdout, stderr bytes.Buffer
		err := Main(context.Background(), args, &stdout, &stderr)
		var ue cliflag.UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("Main(%q) = %v, want a usage error", args, err)
		}
		if !strings.Contains(err.Error(), "gVisor") || !strings.Contains(err.Error(), "checkout") {
			t.Errorf("Main(%q) error %q does not say a gVisor checkout is needed", args, err)
		}
	}
	var stdout bytes.Buffer
	if err := Main(context.Background(), []string{"--help"}, &stdout, &stdout); !errors.Is(err, cliflag.ErrHelp) || !strings.Contains(stdout.String(), "--gvisor-src") {
		t.Errorf("Main(--help) = %v, output %q", err, stdout.String())
	}
}

// CheckoutEnv names the gVisor checkout TestSuiteOnCheckout runs against.
const CheckoutEnv = "RESTARTSYS_GVISOR_SRC"

// TestSuiteOnCheckout runs two small files of a real checkout natively,
// under stock and under patched runsc (root, runsc builds of latest).
func TestSuiteOnCheckout(t *testing.T) {
	src := os.Getenv(CheckoutEnv)
	if src == "" {
		t.Skip(CheckoutEnv + " is not set: it names a gVisor checkout (git clone https://github.com/google/gvisor); CI has none")
	}
	if _, err := os.Stat(filepath.Join(src, "test", "syscalls", "linux", "BUILD")); err != nil {
		t.Fatalf("%s=%s is not a gVisor checkout: %v", CheckoutEnv, src, err)
	}
	out := filepath.Join(t.TempDir(), "suite.json")
	var stdout, stderr bytes.Buffer
	err := Main(context.Background(), []string{"--gvisor-src", src, "--files", "fifo_test,socket_unix_stream_listener_close_test", "--json", out}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := suitereport.LoadRecord(out)
	if err != nil || rec == nil {
		t.Fatalf("LoadRecord: %v, %v", rec, err)
	}
	if len(rec.Result.Files) != 2 {
		t.Fatalf("%d files in the result, want 2", len(rec.Result.Files))
	}
	for _, f := range rec.Result.Files {
		for _, p := range []string{suitereport.Native, suitereport.Stock, suitereport.Patched} {
			if c := f.Counts[p]; c.Total() != f.Cases || c.Pass == 0 {
				t.Errorf("%s %s: %+v of %d cases", f.Target, p, c, f.Cases)
			}
		}
	}
}
