package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/boot"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
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
		return nil, nil, err
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

// knownVersions lists the gVisor snapshots, saying on w when the list comes
// from the module cache because the proxy is unreachable.
func knownVersions(ctx context.Context, w io.Writer) ([]gvisor.Version, gvisor.Source, error) {
	env, err := gvisor.GoEnv(ctx)
	if err != nil {
		return nil, "", err
	}
	vs, src, err := gvisor.List(ctx, env, nil)
	if err != nil {
		return nil, "", err
	}
	if src == gvisor.FromCache {
		fmt.Fprintf(w, "note: module proxy unreachable; using the %d version(s) in the module cache\n", len(vs))
	}
	return vs, src, nil
}

// resolveVersion turns what the user typed into a module version.
func resolveVersion(ctx context.Context, spec string, w io.Writer) (gvisor.Version, error) {
	vs, _, err := knownVersions(ctx, w)
	if err != nil {
		return gvisor.Version{}, err
	}
	return gvisor.Resolve(vs, spec)
}

// parseFlags parses args with fs, rejecting stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

// bootCheck returns the check every build runs before it caches a runsc:
// the storm guest of this repository under the new binary. It needs root,
// and says so before anything is downloaded or built. The logs of a binary
// that does not boot are kept under CACHE/boot-failures.
func bootCheck(ctx context.Context, cache string) (build.BootFunc, error) {
	if err := sandbox.CheckRoot(); err != nil {
		return nil, fmt.Errorf("every build boots its runsc: %w", err)
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return nil, err
	}
	c, err := boot.ForRepo(ctx, repo, filepath.Join(cache, "boot-failures"), os.Stderr)
	if err != nil {
		return nil, err
	}
	return c.Check, nil
}
