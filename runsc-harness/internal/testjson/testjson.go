// Package testjson reads the output of `go test -json` (the event stream of
// cmd/test2json), passes the test output through for people to read, and
// judges the run: a test that was skipped without being on an allow-list,
// a failed test or package, a package whose build failed, or a package
// that started without a result makes the run fail.
//
// The skipcheck command (cmd/skipcheck) is its command-line front end, run
// by CI on `go test -json` output so that a test skipped under CI (no cc,
// no static libc, not root) cannot let CI pass unnoticed.
package testjson

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Event is one line of `go test -json` output, as cmd/test2json documents
// it (go doc cmd/test2json).
type Event struct {
	Time    time.Time `json:"Time,omitzero"`
	Action  string    `json:"Action"`
	Package string    `json:"Package,omitempty"`
	Test    string    `json:"Test,omitempty"`
	Elapsed float64   `json:"Elapsed,omitempty"`
	Output  string    `json:"Output,omitempty"`
	// FailedBuild is set on a package's "fail" event when its build
	// failed: the ImportPath of the package that did not build.
	FailedBuild string `json:"FailedBuild,omitempty"`
	// ImportPath is set on "build-output" and "build-fail" events.
	ImportPath string `json:"ImportPath,omitempty"`
}

// Key names a test of a package.
type Key struct {
	Package string
	Test    string
}

func (k Key) String() string { return k.Package + " " + k.Test }

// AllowList maps the tests that may be skipped to the reason they may.
type AllowList map[Key]string

// ErrAllowList is wrapped by ParseAllowList for a malformed line.
var ErrAllowList = errors.New("bad allow-list line")

// ParseAllowList reads an allow-list: one entry a line,
//
//	package-import-path TestName  # reason
//
// with the reason required. Blank lines and lines starting with # are
// ignored. An entry for TestName also allows the skips of its subtests
// (TestName/...).
func ParseAllowList(r io.Reader) (AllowList, error) {
	allow := AllowList{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entry, reason, _ := strings.Cut(line, "#")
		f := strings.Fields(entry)
		reason = strings.TrimSpace(reason)
		switch {
		case len(f) != 2:
			return nil, fmt.Errorf("%w %d: want `package-import-path TestName  # reason`, got %q", ErrAllowList, n, line)
		case reason == "":
			return nil, fmt.Errorf("%w %d: %s %s has no reason (`# why it may skip`)", ErrAllowList, n, f[0], f[1])
		}
		k := Key{Package: f[0], Test: f[1]}
		if _, dup := allow[k]; dup {
			return nil, fmt.Errorf("%w %d: %s listed twice", ErrAllowList, n, k)
		}
		allow[k] = reason
	}
	return allow, sc.Err()
}

// reason returns the allow-list reason covering k (k's own entry or that
// of a parent test), and whether there is one.
func (a AllowList) reason(k Key) (string, bool) {
	for t := k.Test; ; {
		if r, ok := a[Key{k.Package, t}]; ok {
			return r, true
		}
		i := strings.LastIndex(t, "/")
		if i < 0 {
			return "", false
		}
		t = t[:i]
	}
}

// Skip is one skipped test.
type Skip struct {
	Key
	// Message is what the test printed (its t.Skip message), without the
	// "=== RUN" and "--- SKIP" lines.
	Message string
	// Allowed is the allow-list reason, "" if the skip is not allowed.
	Allowed string
}

// Result is what Check found.
type Result struct {
	// Packages counts the packages with a result (pass, fail or skip).
	Packages int
	// Skips lists every skipped test, allowed or not, in input order.
	Skips []Skip
	// FailedTests lists the tests that failed.
	FailedTests []Key
	// FailedPackages lists the packages that failed, with the ImportPath
	// of the build that failed ("" when tests failed).
	FailedPackages []Key
	// BuildFailures lists the ImportPaths of "build-fail" events that no
	// failed package accounts for.
	BuildFailures []string
	// Incomplete lists the packages that started but have no result.
	Incomplete []string
	// Unused lists the allow-list entries of packages in the input that
	// did not skip (kept short by removing them; not a problem).
	Unused []Key
	// NotJSON counts the input lines that were not test2json events
	// (passed through as they are).
	NotJSON int
}

// Problems says why the run fails: every skip not allowed (with its
// message), failed test and package, build failure and package without a
// result, and an input with no package result at all. It is empty when the
// run passes.
func (r *Result) Problems() []string {
	var p []string
	for _, s := range r.Skips {
		if s.Allowed == "" {
			msg := s.Message
			if msg == "" {
				msg = "(no message)"
			}
			p = append(p, fmt.Sprintf("skipped, not on the allow-list: %s: %s", s.Key, msg))
		}
	}
	for _, k := range r.FailedTests {
		p = append(p, "failed: "+k.String())
	}
	for _, k := range r.FailedPackages {
		if k.Test != "" {
			p = append(p, fmt.Sprintf("failed: %s (build failed: %s)", k.Package, k.Test))
		} else {
			p = append(p, "failed: "+k.Package)
		}
	}
	for _, b := range r.BuildFailures {
		p = append(p, "build failed: "+b)
	}
	for _, pkg := range r.Incomplete {
		p = append(p, "no result: "+pkg+" (the test binary did not finish)")
	}
	if r.Packages == 0 {
		p = append(p, "no package result in the input: is it `go test -json` output?")
	}
	return p
}

// Check reads `go test -json` output from in, writes the Output of every
// event (and every line that is not an event) to out, and returns what it
// found, judged against allow. An error is an error reading in or writing
// out; what the tests did is in the Result.
func Check(in io.Reader, out io.Writer, allow AllowList) (*Result, error) {
	res := &Result{}
	br := bufio.NewReader(in)
	logs := map[Key][]string{} // output of the tests still running
	started := map[string]bool{}
	done := map[string]bool{}
	builtFailed := map[string]bool{}
	var buildFails []string
	for {
		line, rerr := br.ReadString('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return res, rerr
		}
		if strings.TrimSpace(line) != "" {
			var e Event
			if err := json.Unmarshal([]byte(line), &e); err != nil || e.Action == "" {
				res.NotJSON++
				if _, err := io.WriteString(out, strings.TrimSuffix(line, "\n")+"\n"); err != nil {
					return res, err
				}
			} else {
				if e.Output != "" {
					if _, err := io.WriteString(out, e.Output); err != nil {
						return res, err
					}
				}
				k := Key{e.Package, e.Test}
				switch {
				case e.Action == "build-fail":
					buildFails = append(buildFails, e.ImportPath)
				case e.Action == "start":
					started[e.Package] = true
				case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
					// A package's result; "skip" is a package without tests.
					res.Packages++
					done[e.Package] = true
					if e.Action == "fail" {
						res.FailedPackages = append(res.FailedPackages, Key{e.Package, e.FailedBuild})
						builtFailed[e.FailedBuild] = true
					}
				case e.Test == "":
				case e.Action == "output":
					logs[k] = append(logs[k], e.Output)
				case e.Action == "skip":
					s := Skip{Key: k, Message: skipMessage(logs[k])}
					s.Allowed, _ = allow.reason(k)
					res.Skips = append(res.Skips, s)
					delete(logs, k)
				case e.Action == "fail":
					res.FailedTests = append(res.FailedTests, k)
					delete(logs, k)
				case e.Action == "pass":
					delete(logs, k)
				}
			}
		}
		if rerr != nil {
			break
		}
	}
	for _, b := range buildFails {
		if !builtFailed[b] {
			res.BuildFailures = append(res.BuildFailures, b)
		}
	}
	for p := range started {
		if !done[p] {
			res.Incomplete = append(res.Incomplete, p)
		}
	}
	sort.Strings(res.Incomplete)
	skipped := map[Key]bool{}
	for _, s := range res.Skips {
		skipped[s.Key] = true
	}
	for k := range allow {
		if done[k.Package] && !skippedUnder(skipped, k) {
			res.Unused = append(res.Unused, k)
		}
	}
	sort.Slice(res.Unused, func(i, j int) bool { return res.Unused[i].String() < res.Unused[j].String() })
	return res, nil
}

// skippedUnder reports whether k or one of its subtests skipped.
func skippedUnder(skipped map[Key]bool, k Key) bool {
	for s := range skipped {
		if s.Package == k.Package && (s.Test == k.Test || strings.HasPrefix(s.Test, k.Test+"/")) {
			return true
		}
	}
	return false
}

// skipMessage is a skipped test's output without the framework's lines.
func skipMessage(lines []string) string {
	var msg []string
	for _, l := range strings.Split(strings.Join(lines, ""), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP:") {
			continue
		}
		msg = append(msg, l)
	}
	return strings.Join(msg, " / ")
}
