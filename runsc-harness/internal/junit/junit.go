// Package junit writes JUnit XML test reports, in the dialect that Bazel,
// Jenkins and GitHub's test reporters read: testsuites, testsuite with
// properties, testcase with failure, error, skipped and system-out.
package junit

import (
	"encoding/xml"
	"io"
)

// Suites is the document: every suite of one report.
type Suites struct {
	XMLName xml.Name `xml:"testsuites"`
	// Name names the report; omitted when empty.
	Name string `xml:"name,attr,omitempty"`
	// Tests, Failures, Errors and Skipped are the totals over Suites; Write
	// computes them.
	Tests    int     `xml:"tests,attr"`
	Failures int     `xml:"failures,attr"`
	Errors   int     `xml:"errors,attr"`
	Skipped  int     `xml:"skipped,attr"`
	Suites   []Suite `xml:"testsuite"`
}

// Suite is one testsuite.
type Suite struct {
	Name string `xml:"name,attr"`
	// Tests, Failures, Errors and Skipped count Cases; Write computes them.
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	// Time is the suite's wall time in seconds ("1.234"); omitted when empty.
	Time string `xml:"time,attr,omitempty"`
	// Properties describe the suite; the element is left out when nil.
	Properties *Properties `xml:"properties,omitempty"`
	Cases      []Case      `xml:"testcase"`
}

// Properties is a suite's properties element.
type Properties struct {
	Property []Property `xml:"property"`
}

// Props returns the properties element holding p.
func Props(p ...Property) *Properties { return &Properties{Property: p} }

// Property is one name=value property of a suite.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Case is one testcase. At most one of Failure, Error and Skipped is set;
// none means it passed.
type Case struct {
	Classname string `xml:"classname,attr"`
	Name      string `xml:"name,attr"`
	// Time is the case's wall time in seconds; omitted when empty.
	Time      string   `xml:"time,attr,omitempty"`
	Failure   *Message `xml:"failure,omitempty"`
	Error     *Message `xml:"error,omitempty"`
	Skipped   *Message `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Message is the body of a failure, error or skipped element.
type Message struct {
	Message string `xml:"message,attr"`
	// Type classifies it ("divergence", "run-failed"); omitted when empty.
	Type string `xml:"type,attr,omitempty"`
	Text string `xml:",chardata"`
}

// Count sets the suite's counters from its cases.
func (s *Suite) Count() {
	s.Tests, s.Failures, s.Errors, s.Skipped = len(s.Cases), 0, 0, 0
	for _, c := range s.Cases {
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
}

// Write counts every suite's cases, sums the totals and writes all as an
// indented XML document with its header.
func Write(w io.Writer, all *Suites) error {
	all.Tests, all.Failures, all.Errors, all.Skipped = 0, 0, 0, 0
	for i := range all.Suites {
		s := &all.Suites[i]
		s.Count()
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
