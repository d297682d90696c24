// Package cliflag holds the flag.Value types that runsc-harness commands
// share: comma-separated lists and named runsc binaries.
package cliflag

import (
	"fmt"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

// List is a comma-separated list flag that may also be repeated; the first
// Set replaces the default values.
type List struct {
	Vals []string
	set  bool
}

// String joins the values with commas.
func (l *List) String() string { return strings.Join(l.Vals, ",") }

// Set adds the comma-separated values of s.
func (l *List) Set(s string) error {
	if !l.set {
		l.Vals, l.set = nil, true
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.Vals = append(l.Vals, v)
		}
	}
	return nil
}

// Runscs is --runsc NAME=PATH, repeated. NAME starts with "stock" or
// "patched", which gives the binary's kind.
type Runscs []harness.Runsc

// String lists the binaries as NAME=PATH.
func (r *Runscs) String() string {
	var s []string
	for _, n := range *r {
		s = append(s, n.Name+"="+n.Path)
	}
	return strings.Join(s, " ")
}

// Set adds one NAME=PATH.
func (r *Runscs) Set(s string) error {
	name, path, ok := strings.Cut(s, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=PATH, got %q", s)
	}
	var kind report.Kind
	switch {
	case strings.HasPrefix(name, string(report.Stock)):
		kind = report.Stock
	case strings.HasPrefix(name, string(report.Patched)):
		kind = report.Patched
	default:
		return fmt.Errorf("runsc name %q must start with %q or %q (it says which kind it is)", name, report.Stock, report.Patched)
	}
	for _, n := range *r {
		if n.Name == name {
			return fmt.Errorf("runsc %q given twice", name)
		}
	}
	if strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("runsc name %q: no slashes or spaces", name)
	}
	*r = append(*r, harness.Runsc{Name: name, Kind: kind, Path: path})
	return nil
}
