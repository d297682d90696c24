package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/bench"
	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

func init() {
	register(&command{
		name:     "bench",
		synopsis: "benchmarks: patched vs stock Sentry overhead, storm detection power, suite and build cost (one table, JSON)",
		run:      runBench,
	})
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &bench.Config{}
	var sf cliflag.Series
	fs.StringVar(&c.GVisor, "gvisor", defaultGVisor, "gVisor version of stock and patched runsc: a module version, a date (YYYY-MM-DD) or latest")
	fs.StringVar(&c.FIFOGVisor, "fifo-gvisor", "latest", "gVisor version whose stock runsc the FIFO-open detection runs under (its build may take minutes if not cached)")
	fs.StringVar(&c.Cache, "cache", build.DefaultCacheDir(), "build cache directory ($RESTARTSYS_CACHE)")
	fs.StringVar(&c.Platform, "platform", "systrap", "runsc platform: systrap or ptrace")
	fs.IntVar(&c.Rounds, "rounds", 21, "interleaved rounds of the overhead benchmark (native, stock, patched in each; stock and patched alternate first); at least 6 for a 95% interval of the median ratio")
	fs.IntVar(&c.Reps, "reps", 5, "repetitions per shape inside one guest run (the guest reports their median)")
	fs.IntVar(&c.MS, "ms", 200, "milliseconds per repetition of the ping-pong and pipe shapes")
	fs.IntVar(&c.Wakes, "wakes", 300, "wake-ups per repetition of the blocking-recvfrom shape")
	fs.IntVar(&c.Trials, "trials", 100, "storm trials per detection case (each ends at its first EINTR, or after 1s)")
	fs.BoolVar(&c.Cold, "cold", false, "also time a cold build (fresh temporary harness cache and Go build cache; takes minutes)")
	skip := fs.String("skip", "", "comma-separated sections to leave out: overhead, detect, matrix, build")
	fs.StringVar(&c.Out, "out", "", "output directory (default out/bench-TIMESTAMP under the repository)")
	sf.Register(fs)
	cliflag.SetUsage(fs, "bench [--gvisor V] [--fifo-gvisor V] [--rounds N] [--trials N] [--cold] [--skip S,...]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c.Skip = map[string]bool{}
	c.Command = append([]string{"runsc-harness", "bench"}, args...)
	for _, s := range strings.Split(*skip, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "overhead", "detect", "matrix", "build":
			c.Skip[s] = true
		default:
			return cliflag.Usagef("--skip: unknown section %q (want overhead, detect, matrix, build)", s)
		}
	}
	if c.Rounds < 1 || c.Reps < 1 || c.Reps > 64 || c.MS < 1 || c.Wakes < 1 || c.Wakes > 4096 || c.Trials < 1 {
		return cliflag.Usagef("--rounds, --ms and --trials must be positive, --reps in 1..64, --wakes in 1..4096")
	}
	if _, err := platformVariant(c.Platform); err != nil {
		return err
	}
	if err := checkGVisorSpec("gvisor", c.GVisor, false); err != nil {
		return err
	}
	if err := checkGVisorSpec("fifo-gvisor", c.FIFOGVisor, false); err != nil {
		return err
	}
	ser, _, err := sf.Load()
	if err != nil {
		return err
	}
	c.Series, c.Sets = ser, sf.SetList()
	if err := sandbox.CheckRoot(); err != nil {
		return err
	}
	res, path, err := bench.Run(ctx, *c, os.Stderr)
	if err != nil {
		return err
	}
	bench.Print(os.Stdout, res)
	fmt.Printf("written: %s\n", path)
	return nil
}
