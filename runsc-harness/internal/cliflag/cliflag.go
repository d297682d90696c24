// Package cliflag holds the flag.Value types that runsc-harness commands
// share: comma-separated lists and named runsc binaries.
package cliflag

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
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

// UsageError is a wrong command line: an unknown flag, a bad value, a
// missing one or a stray argument. runsc-harness prints it once, points
// at the command's usage, and exits 2.
type UsageError struct{ Err error }

// Error is the wrong part of the command line.
func (e UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// Series are the flags every command that applies the series takes:
// --patches (the series directory) and --sets.
type Series struct {
	Dir  string
	Sets string
}

// Register adds --patches and --sets (default core) to fs.
func (s *Series) Register(fs *flag.FlagSet) { s.RegisterSets(fs, "core") }

// RegisterSets adds --patches and --sets, with sets as --sets' default,
// to fs.
func (s *Series) RegisterSets(fs *flag.FlagSet, sets string) {
	fs.StringVar(&s.Dir, "patches", "", "patch series directory (default: the series built into this binary)")
	fs.StringVar(&s.Sets, "sets", sets, "comma-separated patch sets to apply (core, parity); empty for all; the compat set goes into every build that needs it, stock included")
}

// Load reads the series and selects the requested sets, with the baseline
// patches (the compat set, which every build of a tree that needs it
// carries, stock included) first.
func (s *Series) Load() (*series.Series, []*series.Patch, error) {
	var ser *series.Series
	var err error
	if s.Dir == "" {
		ser, err = series.Load(patches.FS)
	} else {
		ser, err = series.Load(os.DirFS(s.Dir))
	}
	if err != nil {
		return nil, nil, err
	}
	sel, err := ser.Select(s.SetList())
	if err != nil {
		return nil, nil, Usagef("--sets: %v", err)
	}
	return ser, series.WithBaseline(ser.BaselinePatches(), sel), nil
}

// SetList is --sets as a list.
func (s *Series) SetList() []string {
	var out []string
	for _, f := range strings.Split(s.Sets, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// SetUsage gives fs the usage message of a runsc-harness command:
// "usage: runsc-harness " and synopsis, then text if it is not empty, then
// the flags.
func SetUsage(fs *flag.FlagSet, synopsis, text string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness %s\n\n", synopsis)
		if text != "" {
			fmt.Fprint(fs.Output(), text+"\n\n")
		}
		fs.PrintDefaults()
	}
}
