package testjson

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The testdata files are real `go test -json` output (Go 1.26) of a small
// module: mixed.json has a package that skips (one test and one subtest),
// passes and fails tests, one that does not build, one without test files,
// and two that pass (one with a skip); passing.json is the two that pass.

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func parseAllow(t *testing.T, s string) AllowList {
	t.Helper()
	a, err := ParseAllowList(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCheckMixed(t *testing.T) {
	var out bytes.Buffer
	allow := parseAllow(t, "example.com/tj/e TestNeedsRoot  # CI is not root\nexample.com/tj/d TestGone # no longer skips\n")
	res, err := Check(open(t, "mixed.json"), &out, allow)
	if err != nil {
		t.Fatal(err)
	}
	// The output reads like go test's.
	for _, want := range []string{
		"b/b_test.go:3:33: undefined: undefined\n",
		"FAIL\texample.com/tj/b [build failed]\n",
		"    a_test.go:3: no cc here\n--- SKIP: TestSkip (0.00s)\n",
		"--- FAIL: TestFail (0.00s)\n",
		"FAIL\texample.com/tj/a\t",
		"?   \texample.com/tj/c\t[no test files]\n",
		"ok  \texample.com/tj/d\t",
		"ok  \texample.com/tj/e\t",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	want := []string{
		"skipped, not on the allow-list: example.com/tj/a TestSkip: a_test.go:3: no cc here",
		"skipped, not on the allow-list: example.com/tj/a TestSub/x: a_test.go:5: sub skip 1",
		"failed: example.com/tj/a TestFail",
		"failed: example.com/tj/a",
		"failed: example.com/tj/b (build failed: example.com/tj/b [example.com/tj/b.test])",
	}
	if got := res.Problems(); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Packages != 5 {
		t.Errorf("packages = %d, want 5", res.Packages)
	}
	if len(res.Skips) != 3 || res.Skips[2].Allowed != "CI is not root" || res.Skips[2].Message != "e_test.go:3: needs root" {
		t.Errorf("skips = %+v, want the third allowed, with its message", res.Skips)
	}
	if want := []Key{{"example.com/tj/d", "TestGone"}}; !slices.Equal(res.Unused, want) {
		t.Errorf("unused = %v, want %v", res.Unused, want)
	}
}

func TestCheckAllowed(t *testing.T) {
	tests := []struct {
		name, file, allow string
		want              []string
	}{
		{"passing, skip allowed", "passing.json", "example.com/tj/e TestNeedsRoot # CI is not root", nil},
		{"passing, skip not allowed", "passing.json", "", []string{
			"skipped, not on the allow-list: example.com/tj/e TestNeedsRoot: e_test.go:3: needs root"}},
		{"parent test allows subtests", "mixed.json", "example.com/tj/a TestSub # r\nexample.com/tj/a TestSkip # r", []string{
			"failed: example.com/tj/a TestFail",
			"failed: example.com/tj/b (build failed: example.com/tj/b [example.com/tj/b.test])",
			"failed: example.com/tj/a",
			"skipped, not on the allow-list: example.com/tj/e TestNeedsRoot: e_test.go:3: needs root"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(open(t, tc.file), new(bytes.Buffer), parseAllow(t, tc.allow))
			if err != nil {
				t.Fatal(err)
			}
			got := res.Problems()
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "passing.json"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	truncated := strings.Join(lines[:12], "") // package e started, no result
	buildOnly := `{"ImportPath":"x/y","Action":"build-output","Output":"# x/y\n"}
{"ImportPath":"x/y","Action":"build-fail"}
`
	allowE := parseAllow(t, "example.com/tj/e TestNeedsRoot # r")
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"no package result in the input: is it `go test -json` output?"}},
		{"not json", "go: cannot find main module\n", []string{"no package result in the input: is it `go test -json` output?"}},
		{"truncated", truncated, []string{"no result: example.com/tj/e (the test binary did not finish)"}},
		{"build failure only", buildOnly, []string{"build failed: x/y", "no package result in the input: is it `go test -json` output?"}},
		{"no final newline", strings.TrimSuffix(string(b), "\n"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := Check(strings.NewReader(tc.in), &out, allowE)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Problems(); !slices.Equal(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
			if tc.name == "not json" && out.String() != tc.in {
				t.Errorf("a line that is not an event is not passed through: %q", out.String())
			}
		})
	}
}

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		name, in string
		want     AllowList
		wantErr  bool
	}{
		{"comments and blanks", "# header\n\n  # indented comment\n", AllowList{}, false},
		{"entry", "example.com/p TestX   # needs /dev/kvm  \n", AllowList{{"example.com/p", "TestX"}: "needs /dev/kvm"}, false},
		{"no reason", "example.com/p TestX\n", nil, true},
		{"empty reason", "example.com/p TestX #  \n", nil, true},
		{"three fields", "example.com/p TestX TestY # r\n", nil, true},
		{"one field", "TestX # r\n", nil, true},
		{"duplicate", "example.com/p TestX # a\nexample.com/p TestX # b\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAllowList(strings.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrAllowList) {
					t.Fatalf("err = %v, want ErrAllowList", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: reason %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
