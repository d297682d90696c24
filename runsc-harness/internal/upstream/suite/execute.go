package suite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
)

// Options say what Execute runs.
type Options struct {
	// Targets are the test binaries selected.
	Targets []*Target
	// Compiler compiles them.
	Compiler *Compiler
	// Places are where every case runs: native, stock, patched.
	Places []Place
	// ShardSize is the most cases one run (one process, one sandbox)
	// takes.
	ShardSize int
	// ShardTimeout is the deadline of one shard; CaseTimeout that of a
	// case run alone (after its shard hung or crashed, or to confirm a
	// regression).
	ShardTimeout, CaseTimeout time.Duration
	// Jobs bounds the runs at once (the compiler has its own bound).
	Jobs int
	// StopBy, when set, is the time after which no further file starts:
	// the files left are listed in the result as not run.
	StopBy time.Time
	// Log receives progress.
	Log io.Writer
}

// compiled is a target after its compile step.
type compiled struct {
	t   *Target
	bin string
	err error
}

// Execute compiles the targets (ahead of the runs, in order) and runs
// each compiled one in every place; files come back in target order.
func Execute(ctx context.Context, o Options, res *suitereport.Result) error {
	u, err := o.Compiler.Util(ctx)
	if err != nil {
		return err
	}
	res.UtilErrors = u.Errors
	if len(res.UtilErrors) == 0 {
		res.UtilErrors = nil
	}
	ch := make(chan compiled, 2)
	go func() {
		defer close(ch)
		for _, t := range o.Targets {
			bin, err := o.Compiler.Binary(ctx, t, u)
			select {
			case ch <- compiled{t, bin, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for c := range ch {
		if !o.StopBy.IsZero() && time.Now().After(o.StopBy) {
			res.NotRun = append(res.NotRun, c.t.Name)
			continue
		}
		f := &suitereport.File{Target: c.t.Name, Srcs: c.t.Main}
		if c.err != nil {
			ce, ok := asCompileError(c.err)
			if !ok {
				return c.err
			}
			f.CompileError = ce.Error()
			fmt.Fprintf(o.Log, "%s: not compiled: %s\n", c.t.Name, f.CompileError)
		} else if err := o.runFile(ctx, f, c.bin); err != nil {
			return err
		}
		res.Files = append(res.Files, f)
	}
	return ctx.Err()
}

// runFile lists the cases of bin and runs them in every place.
func (o Options) runFile(ctx context.Context, f *suitereport.File, bin string) error {
	cases, err := o.list(ctx, bin)
	if err != nil {
		f.CompileError = "listing its cases: " + err.Error()
		fmt.Fprintf(o.Log, "%s: %s\n", f.Target, f.CompileError)
		return ctx.Err()
	}
	f.Cases = len(cases)
	shards := Shards(cases, o.ShardSize, 64<<10)
	outcomes := map[string]map[string]suitereport.Status{}
	f.Seconds = map[string]float64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(o.Jobs, 1))
	var firstErr error
	for _, p := range o.Places {
		outcomes[p.Name] = map[string]suitereport.Status{}
		for i, sh := range shards {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				start := time.Now()
				got, err := o.runShard(ctx, p, bin, sh)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				var c suitereport.Counts
				for k, v := range got {
					outcomes[p.Name][k] = v
					c.Add(v)
				}
				f.Seconds[p.Name] += time.Since(start).Seconds()
				fmt.Fprintf(o.Log, "%s %s shard %d/%d: %s (%v)\n", f.Target, p.Name, i+1, len(shards), suitereport.Cell(c, true), time.Since(start).Round(time.Millisecond))
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	suspects, fixed := suitereport.Compare(outcomes[suitereport.Stock], outcomes[suitereport.Patched])
	f.Fixed = fixed
	for _, c := range suspects {
		regressed, err := o.confirm(ctx, bin, c)
		if err != nil {
			return err
		}
		if regressed {
			f.Regressions = append(f.Regressions, c)
		} else {
			f.Flaky = append(f.Flaky, c)
		}
	}
	f.Summarise(outcomes)
	return nil
}

// runShard runs one shard in p; the cases it has no result for (the shard
// hung or crashed) run again alone, where no result is a hang or a crash.
func (o Options) runShard(ctx context.Context, p Place, bin string, cases []string) (map[string]suitereport.Status, error) {
	r, err := p.Run(ctx, bin, cases, o.ShardTimeout)
	if err != nil {
		return nil, err
	}
	out := map[string]suitereport.Status{}
	for _, c := range cases {
		if s, ok := r.Results[c]; ok {
			out[c] = s
			continue
		}
		var prev *Run
		if len(cases) == 1 {
			prev = r
		} else {
			fmt.Fprintf(o.Log, "%s %s: shard without a result for %s (%s); running it alone\n", filepath.Base(bin), p.Name, c, r.Problem)
		}
		out[c], err = o.alone(ctx, p, bin, c, prev)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// alone runs case c by itself in p, unless prev is already that run, and
// returns its outcome.
func (o Options) alone(ctx context.Context, p Place, bin, c string, prev *Run) (suitereport.Status, error) {
	r := prev
	if r == nil {
		var err error
		if r, err = p.Run(ctx, bin, []string{c}, o.CaseTimeout); err != nil {
			return "", err
		}
	}
	if s, ok := r.Results[c]; ok {
		return s, nil
	}
	switch {
	case r.Hung:
		return suitereport.Hang, nil
	case r.Results != nil:
		return suitereport.Error, nil // it ran, and its report lacks the case
	}
	return suitereport.Crash, nil
}

// confirm runs a case that passed on stock and not on patched alone on
// both again: it is a regression if it passes on stock and not on patched
// again.
func (o Options) confirm(ctx context.Context, bin, c string) (bool, error) {
	got := map[string]suitereport.Status{}
	for _, p := range o.Places {
		if p.Name != suitereport.Stock && p.Name != suitereport.Patched {
			continue
		}
		s, err := o.alone(ctx, p, bin, c, nil)
		if err != nil {
			return false, err
		}
		got[p.Name] = s
	}
	fmt.Fprintf(o.Log, "%s %s alone again: stock %s, patched %s\n", filepath.Base(bin), c, got[suitereport.Stock], got[suitereport.Patched])
	return got[suitereport.Stock] == suitereport.Pass && got[suitereport.Patched] != suitereport.Pass, nil
}

// list returns the cases of bin, from gtest's XML list, natively.
func (o Options) list(ctx context.Context, bin string) ([]string, error) {
	dir, err := os.MkdirTemp("", "suite-list-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "list.xml")
	res, err := runNative(ctx, []string{bin, "--gtest_list_tests", "--gtest_output=xml:" + report}, []string{hostPath, "TEST_TMPDIR=" + dir}, dir, 0, time.Minute)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return nil, fmt.Errorf("exit %d, no XML list: %s", res.ExitCode, res.LastOutput(300))
	}
	cases, err := ParseList(b)
	if err == nil && len(cases) == 0 {
		err = fmt.Errorf("no case")
	}
	return cases, err
}
