package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
)

// Select returns the targets whose name or main source matches one of
// the patterns (all when there is none), and fails on a pattern that
// matches nothing.
func Select(ts []*Target, patterns []string) ([]*Target, error) {
	if len(patterns) == 0 {
		return ts, nil
	}
	used := map[string]bool{}
	var out []*Target
	for _, t := range ts {
		hit := false
		for _, p := range patterns {
			names := append([]string{t.Name}, t.Main...)
			for _, n := range names {
				if ok, _ := filepath.Match(p, n); ok {
					hit, used[p] = true, true
				}
			}
		}
		if hit {
			out = append(out, t)
		}
	}
	for _, p := range patterns {
		if !used[p] {
			return nil, cliflag.Usagef("--files: %q matches no test file of test/syscalls/linux/BUILD", p)
		}
	}
	return out, nil
}

func run(ctx context.Context, c *config, args []string, stdout, stderr io.Writer) error {
	start := time.Now()
	b, err := os.ReadFile(filepath.Join(c.src, "test", "syscalls", "linux", "BUILD"))
	if err != nil {
		return err
	}
	all, err := ParseBuild("test/syscalls/linux/BUILD", b, "amd64")
	if err != nil {
		return err
	}
	targets, err := Select(all, c.files.Vals)
	if err != nil {
		return err
	}
	if err := upstream.CheckToolchain("/usr/include"); err != nil {
		return err
	}
	if err := sandbox.CheckRoot(); err != nil {
		return err
	}
	res := &suitereport.Result{Commit: c.commit, Platform: c.platform, Total: len(all), NotSelected: len(all) - len(targets),
		Toolchain: toolchain()}
	comp := &Compiler{Src: c.src, Dir: filepath.Join(c.cache, "upstream-suite"), Jobs: c.jobs, Log: stderr}
	o := Options{Targets: targets, Compiler: comp, ShardSize: c.shardSize, ShardTimeout: c.timeout,
		CaseTimeout: c.caseTimeout, Jobs: c.jobs, Log: stderr}
	if c.maxTime > 0 {
		o.StopBy = start.Add(c.maxTime)
	}
	if !c.compileOnly {
		runscs, err := runscsOf(ctx, c, res, stderr)
		if err != nil {
			return err
		}
		o.Places = []Place{{Name: suitereport.Native, NoFile: c.nofile}}
		for _, r := range runscs {
			o.Places = append(o.Places, Place{Name: string(r.Kind), Runsc: r.Path, Platform: c.platform, NoFile: c.nofile})
		}
		if len(o.Places) != 3 {
			return errors.New("the build has no patched runsc: nothing to compare stock with")
		}
		for _, p := range o.Places {
			res.Places = append(res.Places, p.Name)
		}
	} else {
		o.Targets = nil // Execute compiles what it runs; compile here instead
	}
	fmt.Fprintf(stderr, "upstream suite: %d of %d test file(s) of %s at %s\n", len(targets), len(all), c.src, c.commit)
	if c.compileOnly {
		err = compileOnly(ctx, comp, targets, res)
	} else {
		err = Execute(ctx, o, res)
	}
	if err != nil {
		return err
	}
	res.Sort()
	res.WriteTable(stdout)
	wall := time.Since(start).Round(time.Second)
	fmt.Fprintf(stdout, "wall time %v\n", wall)
	rec := &suitereport.Record{Result: res, Runs: []suitereport.Run{{
		Measured: time.Now().UTC().Format("2006-01-02"), Wall: wall.String(), Files: len(targets),
		Command: "runsc-harness upstream suite " + strings.Join(args, " "),
	}}}
	if c.jsonOut != "" {
		if err := suitereport.SaveRecord(c.jsonOut, rec); err != nil {
			return err
		}
	}
	if c.record && !c.compileOnly {
		path := c.recordTo
		if path == "" {
			root, err := guests.RepoRoot(".")
			if err != nil {
				return err
			}
			path = filepath.Join(root, "docs", suitereport.RecordFile)
		}
		old, err := suitereport.LoadRecord(path)
		if err != nil {
			return err
		}
		if err := suitereport.SaveRecord(path, suitereport.Merge(old, rec.Runs[0], res)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "recorded in %s; regenerate docs/upstreaming.md with `runsc-harness docs`\n", path)
	}
	if !c.compileOnly && !res.OK() {
		return errors.New("upstream suite: some case that passes on stock runsc does not on patched, or nothing ran (see the table)")
	}
	return nil
}

// runscsOf returns the --runsc binaries, or builds (or takes from the
// cache) stock and patched runsc of --gvisor with --sets, as every
// command does (harness.Build, which boots each binary before caching it);
// it fills res's version and stamps.
func runscsOf(ctx context.Context, c *config, res *suitereport.Result, log io.Writer) ([]harness.Runsc, error) {
	if len(c.runscs) > 0 {
		for _, r := range c.runscs {
			out, err := exec.CommandContext(ctx, r.Path, "--version").Output()
			if err != nil {
				return nil, fmt.Errorf("--runsc %s=%s: --version: %v", r.Name, r.Path, err)
			}
			stamp := strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0], "runsc version ")
			if r.Kind == report.Stock {
				res.Stock = stamp
			} else {
				res.Patched = stamp
			}
		}
		res.Version, _, _ = strings.Cut(res.Stock, "+")
		return c.runscs, nil
	}
	ser, _, err := c.sets.Load()
	if err != nil {
		return nil, err
	}
	v, err := harness.ResolveVersion(ctx, c.gvisor, log)
	if err != nil {
		return nil, err
	}
	br, err := harness.Build(ctx, harness.BuildOptions{Version: v.Version, Series: ser, Sets: c.sets.SetList(), Cache: c.cache, Log: log})
	if err != nil {
		return nil, err
	}
	res.Version, res.Stock, res.Patched = v.Version, br.Stock.Stamp, br.Patched.Stamp
	return harness.Runscs(br), nil
}

// checkRunscs accepts no --runsc, or exactly one stock and one patched.
func checkRunscs(rs cliflag.Runscs) error {
	if len(rs) == 0 {
		return nil
	}
	kinds := map[report.Kind]int{}
	for _, r := range rs {
		kinds[r.Kind]++
	}
	if len(rs) != 2 || kinds[report.Stock] != 1 || kinds[report.Patched] != 1 {
		return cliflag.Usagef("--runsc: give one stock=PATH and one patched=PATH, or none to build --gvisor's")
	}
	return nil
}

// compileOnly compiles targets and records which did not.
func compileOnly(ctx context.Context, comp *Compiler, targets []*Target, res *suitereport.Result) error {
	u, err := comp.Util(ctx)
	if err != nil {
		return err
	}
	res.UtilErrors = u.Errors
	for _, t := range targets {
		f := &suitereport.File{Target: t.Name, Srcs: t.Main}
		if _, err := comp.Binary(ctx, t, u); err != nil {
			ce, ok := asCompileError(err)
			if !ok {
				return err
			}
			f.CompileError = ce.Error()
		}
		res.Files = append(res.Files, f)
	}
	return nil
}

// toolchain says which compiler and libraries compiled the tests.
func toolchain() string {
	return "g++ " + gxxVersion() + ", Debian packages " + debVersions("libgtest-dev", "libgmock-dev", "libabsl-dev", "libbenchmark-dev")
}
