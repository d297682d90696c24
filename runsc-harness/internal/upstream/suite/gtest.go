package suite

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
)

// xmlSuites is GoogleTest's XML report (--gtest_output=xml:FILE), also
// written by --gtest_list_tests with that flag.
type xmlSuites struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name   string `xml:"name,attr"`
			Status string `xml:"status,attr"`
			Result string `xml:"result,attr"`
			Time   string `xml:"time,attr"`
			// Failures hold each failed assertion's message.
			Failures []struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// disabled says whether GoogleTest leaves a case out unless asked to run
// disabled tests (its filter DISABLED_*:*/DISABLED_*).
func disabled(suite, name string) bool {
	for _, s := range []string{suite, name} {
		if strings.HasPrefix(s, "DISABLED_") || strings.Contains(s, "/DISABLED_") {
			return true
		}
	}
	return false
}

// ParseList returns the full names (Suite.Case) of the cases of a
// --gtest_list_tests XML report, in order, without the disabled ones.
func ParseList(b []byte) ([]string, error) {
	var x xmlSuites
	if err := xml.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("gtest list XML: %w", err)
	}
	var out []string
	for _, s := range x.Suites {
		for _, c := range s.Cases {
			if !disabled(s.Name, c.Name) {
				out = append(out, s.Name+"."+c.Name)
			}
		}
	}
	return out, nil
}

// ParseResults returns the outcome of every case a GoogleTest XML report
// says ran: fail if an assertion failed, skip if it skipped, pass
// otherwise. Cases not run (disabled, filtered out) are not in it.
func ParseResults(b []byte) (map[string]suitereport.Status, error) {
	var x xmlSuites
	if err := xml.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("gtest XML: %w", err)
	}
	out := map[string]suitereport.Status{}
	for _, s := range x.Suites {
		for _, c := range s.Cases {
			if c.Status != "run" {
				continue
			}
			st := suitereport.Pass
			switch {
			case len(c.Failures) > 0:
				st = suitereport.Fail
			case c.Result == "skipped" || c.Skipped != nil:
				st = suitereport.Skip
			}
			out[s.Name+"."+c.Name] = st
		}
	}
	return out, nil
}

// Shards splits cases into shards of at most size cases whose
// --gtest_filter stays under maxFilter bytes.
func Shards(cases []string, size, maxFilter int) [][]string {
	var out [][]string
	var cur []string
	n := 0
	for _, c := range cases {
		if len(cur) > 0 && (len(cur) >= size || n+len(c)+1 > maxFilter) {
			out = append(out, cur)
			cur, n = nil, 0
		}
		cur = append(cur, c)
		n += len(c) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Filter is the --gtest_filter value that selects exactly cases: gtest
// patterns treat only '*', '?', ':' and a leading '-' specially, none of
// which a case name holds.
func Filter(cases []string) string { return strings.Join(cases, ":") }
