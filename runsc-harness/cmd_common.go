package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strings"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// defaultGVisor is the affected release the main job builds by default.
const defaultGVisor = "2026-05-18"

// seriesFlags are the flags every command that applies the series takes.
type seriesFlags struct {
	dir  string
	sets string
}

func (s *seriesFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dir, "patches", "", "patch series directory (default: the series built into this binary)")
	fs.StringVar(&s.sets, "sets", "core", "comma-separated patch sets to apply (core, parity); empty for all; the compat set goes into every build that needs it, stock included")
}

// load reads the series and selects the requested sets, with the baseline
// patches (the compat set, which every build of a tree that needs it
// carries, stock included) first.
func (s *seriesFlags) load() (*series.Series, []*series.Patch, error) {
	var ser *series.Series
	var err error
	if s.dir == "" {
		ser, err = series.Load(patches.FS)
	} else {
		ser, err = series.Load(os.DirFS(s.dir))
	}
	if err != nil {
		return nil, nil, err
	}
	sel, err := ser.Select(s.setList())
	if err != nil {
		return nil, nil, usagef("--sets: %v", err)
	}
	return ser, series.WithBaseline(ser.BaselinePatches(), sel), nil
}

func (s *seriesFlags) setList() []string {
	var out []string
	for _, f := range strings.Split(s.sets, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// knownVersions lists the gVisor snapshots (harness.KnownVersions).
func knownVersions(ctx context.Context, w io.Writer) ([]gvisor.Version, gvisor.Source, error) {
	return harness.KnownVersions(ctx, w)
}

// resolveVersion turns what the user typed into a module version.
func resolveVersion(ctx context.Context, spec string, w io.Writer) (gvisor.Version, error) {
	return harness.ResolveVersion(ctx, spec, w)
}

// parseFlags parses args with fs, rejecting stray positional arguments.
// Asked for help, it prints fs's usage on stdout and returns errHelp; on a
// parse error (unknown flag, bad value) it returns a usageError naming the
// flag, printed once by main.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument(s): %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// parseFlagsArgs is parseFlags for a command that takes positional
// arguments after its flags.
func parseFlagsArgs(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return errHelp
	case err != nil:
		return usageError{err}
	}
	return nil
}

// checkGVisorSpec rejects, before anything is listed or downloaded, a
// --gvisor value that is neither a module version, a date (YYYY-MM-DD) nor
// "latest" (nor "all" or a comma-separated list where allowMany).
func checkGVisorSpec(flagName, spec string, allowMany bool) error {
	specs := []string{spec}
	if allowMany {
		if spec == "all" {
			return nil
		}
		specs = strings.Split(spec, ",")
	}
	for _, s := range specs {
		if err := gvisor.CheckSpec(strings.TrimSpace(s)); err != nil {
			return usagef("--%s: %v", flagName, err)
		}
	}
	return nil
}

// bootCheck is the check every build runs before it caches a runsc
// (harness.BootCheck).
func bootCheck(ctx context.Context, cache string) (build.BootFunc, error) {
	return harness.BootCheck(ctx, "", cache, os.Stderr)
}
