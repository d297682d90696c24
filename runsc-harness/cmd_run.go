package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

func init() {
	register(&command{
		name:     "run",
		synopsis: "run guests natively and under runsc variants, compare, write reports",
		run:      runRun,
	})
}

// listFlag is a comma-separated list flag that may also be repeated.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(s string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

// runtimeFlag is --runsc NAME=PATH, repeated.
type runtimeFlag []namedRunsc

type namedRunsc struct {
	name string
	kind report.Kind
	path string
}

func (r *runtimeFlag) String() string {
	var s []string
	for _, n := range *r {
		s = append(s, n.name+"="+n.path)
	}
	return strings.Join(s, " ")
}

func (r *runtimeFlag) Set(s string) error {
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
		if n.name == name {
			return fmt.Errorf("runsc %q given twice", name)
		}
	}
	if strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("runsc name %q: no slashes or spaces", name)
	}
	*r = append(*r, namedRunsc{name: name, kind: kind, path: path})
	return nil
}

type runConfig struct {
	guests    []string
	runtimes  runtimeFlag
	variants  []sandbox.Variant
	native    bool
	timeout   time.Duration
	out       string
	state     string
	expected  string
	debug     bool
	guestArgs []string
	// gvisor, when set, builds stock and patched runsc for that version
	// (with the series sets in sets, cached in cache) and runs both.
	gvisor string
	sets   seriesFlags
	cache  string
}

func parseRunFlags(args []string) (*runConfig, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c := &runConfig{}
	guest := fs.String("guest", "all", "guest to run: storm, matrix, keyring, nsc, nsgo, all (storm and matrix) or tiny (the harness's own test guest); comma-separated list allowed")
	fs.Var(&c.runtimes, "runsc", "NAME=PATH of a runsc binary, NAME starting with stock or patched; repeat for several")
	platforms := &listFlag{vals: []string{"systrap"}}
	networks := &listFlag{vals: []string{"none"}}
	directfs := &listFlag{vals: []string{"default"}}
	fs.Var(platforms, "platform", "runsc platforms, comma-separated: systrap, ptrace")
	fs.Var(networks, "network", "runsc networks, comma-separated: none, sandbox, host")
	fs.Var(directfs, "directfs", "runsc directfs settings, comma-separated: on, off, default")
	fs.BoolVar(&c.native, "native", false, "run natively only (no runsc): check the guests on this kernel")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "deadline of each run; a guest still running then is killed and reported as a failure")
	fs.StringVar(&c.out, "out", "", "output directory (default out/run-TIMESTAMP under the repository)")
	fs.StringVar(&c.state, "state", "", "private runsc state root directory (default: a fresh temporary directory)")
	fs.StringVar(&c.expected, "expected", "", "JSON file listing expected divergences [{shape, disposition, kind, reason}]")
	fs.BoolVar(&c.debug, "debug", false, "pass --debug to runsc (verbose logs in each run's log directory)")
	fs.StringVar(&c.gvisor, "gvisor", "", "build (or take from the cache) stock and patched runsc for this gVisor version and run both")
	fs.StringVar(&c.cache, "cache", build.DefaultCacheDir(), "build cache directory, with --gvisor ($RESTARTSYS_CACHE)")
	c.sets.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness run [flags] [-- guest args]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.guestArgs = fs.Args()
	for _, g := range strings.Split(*guest, ",") {
		switch g = strings.TrimSpace(g); g {
		case "all":
			c.guests = append(c.guests, "storm", "matrix")
		case "":
		default:
			if _, err := guests.Lookup(g); err != nil {
				return nil, err
			}
			c.guests = append(c.guests, g)
		}
	}
	if len(c.guests) == 0 {
		return nil, errors.New("no guest selected")
	}
	if len(c.guestArgs) > 0 && len(c.guests) > 1 {
		return nil, fmt.Errorf("guest arguments %q need a single --guest (the guests take different flags)", c.guestArgs)
	}
	if c.native && (len(c.runtimes) > 0 || c.gvisor != "") {
		return nil, errors.New("--native runs without runsc: drop --runsc/--gvisor or --native")
	}
	if !c.native && len(c.runtimes) == 0 && c.gvisor == "" {
		return nil, errors.New("no --runsc NAME=PATH or --gvisor V given (or use --native)")
	}
	if c.timeout <= 0 {
		return nil, errors.New("--timeout must be positive")
	}
	for _, p := range platforms.vals {
		for _, n := range networks.vals {
			for _, d := range directfs.vals {
				v := sandbox.Variant{Platform: p, Network: n, DirectFS: d}
				if err := v.Validate(); err != nil {
					return nil, err
				}
				c.variants = append(c.variants, v)
			}
		}
	}
	for _, r := range c.runtimes {
		fi, err := os.Stat(r.path)
		if err != nil {
			return nil, fmt.Errorf("runsc %s: %w", r.name, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("runsc %s: %s is not an executable file", r.name, r.path)
		}
	}
	return c, nil
}

// variantName names a runsc × variant: NAME/PLATFORM/NETWORK, with
// /directfs=X when not the default.
func variantName(r namedRunsc, v sandbox.Variant) string {
	n := r.name + "/" + v.Platform + "/" + v.Network
	if v.DirectFS != "default" {
		n += "/directfs=" + v.DirectFS
	}
	return n
}

func runRun(ctx context.Context, args []string) error {
	c, err := parseRunFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		fmt.Fprintf(os.Stderr, "runsc-harness run: %v\n", err)
		return errUsage
	}
	d, err := runGuests(ctx, c)
	if err != nil {
		return err
	}
	return problems(d)
}

// addBuiltRunsc builds (or takes from the cache) stock and patched runsc
// for c.gvisor and adds them to c.runtimes as "stock" and "patched".
func addBuiltRunsc(ctx context.Context, c *runConfig) error {
	ser, _, err := c.sets.load()
	if err != nil {
		return err
	}
	boot, err := bootCheck(ctx, c.cache)
	if err != nil {
		return err
	}
	v, err := resolveVersion(ctx, c.gvisor, os.Stderr)
	if err != nil {
		return err
	}
	res, err := build.Build(ctx, build.Options{
		Version: v.Version, Series: ser, Sets: c.sets.setList(), CacheDir: c.cache, Progress: os.Stderr, Boot: boot,
	})
	if err != nil {
		return err
	}
	c.runtimes = append(c.runtimes,
		namedRunsc{name: "stock", kind: report.Stock, path: res.Stock.Path},
		namedRunsc{name: "patched", kind: report.Patched, path: res.Patched.Path})
	fmt.Fprintf(os.Stderr, "stock   runsc %s: %s\npatched runsc %s: %s\n", res.Stock.Stamp, res.Stock.Path, res.Patched.Stamp, res.Patched.Path)
	return nil
}

// runGuests runs the configured guests natively and under every runsc
// variant, writes the reports into c.out and returns the comparison. It
// fails only when the runs could not be made; divergences are in the
// document.
func runGuests(ctx context.Context, c *runConfig) (_ *report.Document, retErr error) {
	var err error
	if c.gvisor != "" {
		if err := sandbox.CheckRoot(); err != nil {
			return nil, err
		}
		if err := addBuiltRunsc(ctx, c); err != nil {
			return nil, err
		}
	}
	var expected []report.Expected
	if c.expected != "" {
		if expected, err = report.LoadExpected(c.expected); err != nil {
			return nil, err
		}
	}
	if !c.native {
		if err := sandbox.CheckRoot(); err != nil {
			return nil, err
		}
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return nil, err
	}
	if c.out == "" {
		c.out = filepath.Join(repo, "out", "run-"+time.Now().Format("20060102-150405"))
	}
	if c.out, err = filepath.Abs(c.out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}

	builder := &guests.Builder{RepoRoot: repo, OutDir: filepath.Join(repo, "out", "guests"), Log: os.Stderr}
	bins := map[string]string{}
	known := map[string]guests.Guest{}
	for _, name := range c.guests {
		g, err := guests.Lookup(name)
		if err != nil {
			return nil, err
		}
		known[name] = g
		if bins[name], err = builder.Build(ctx, g); err != nil {
			return nil, err
		}
	}

	// One private state root per runsc binary, in a state base locked by
	// this run, cleaned up at the end; a run killed before that is cleaned
	// up by the next one's sweep.
	runtimes := map[string]sandbox.Runtime{}
	if len(c.runtimes) > 0 {
		sb, err := openStateBase(c.state)
		if err != nil {
			return nil, err
		}
		// A sandbox that could not be cleaned up fails the run, even one
		// whose guests all passed.
		defer func() {
			if err := sb.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "runsc-harness run: cleanup of %s: %v\n", sb.Dir, err)
				if retErr == nil {
					retErr = err
				}
			}
		}()
		for _, r := range c.runtimes {
			if runtimes[r.name], err = sb.Runtime(r.name, r.path); err != nil {
				return nil, err
			}
		}
	}

	var variants []report.Variant
	for _, r := range c.runtimes {
		for _, v := range c.variants {
			variants = append(variants, report.Variant{
				Name: variantName(r, v), Kind: r.kind, Runsc: r.path,
				Platform: v.Platform, Network: v.Network, DirectFS: v.DirectFS,
			})
		}
	}

	var runs []report.Run
	for _, name := range c.guests {
		if ctx.Err() != nil {
			break
		}
		logRoot := filepath.Join(c.out, "logs", name)
		g := known[name]
		native := sandbox.NativeOptions{
			Binary: bins[name], Args: c.guestArgs, LogDir: filepath.Join(logRoot, "native"), Timeout: c.timeout,
			Namespaces: g.Namespaces,
		}
		hd, err := newHostDir(c.out, name, "native", g)
		if err != nil {
			return nil, err
		}
		native.Env = hd.env(hd.dir)
		res, err := sandbox.Native(ctx, native)
		if err == nil {
			err = hd.remove()
		}
		if err != nil {
			return nil, err
		}
		runs = append(runs, toRun(name, report.NativeVariant, c.guestArgs, res))
		for _, r := range c.runtimes {
			for _, v := range c.variants {
				if ctx.Err() != nil {
					break
				}
				vname := variantName(r, v)
				vfile := strings.ReplaceAll(vname, "/", "_")
				hd, err := newHostDir(c.out, name, vfile, g)
				if err != nil {
					return nil, err
				}
				opts := oci.Options{Binary: bins[name], Args: c.guestArgs, HostNetwork: v.Network == "host", ExtraCaps: g.Caps}
				bundleDir := filepath.Join(c.out, "bundles", name)
				if v.Network == "host" {
					bundleDir += "-hostnet"
				}
				var flags []string
				if hd.dir != "" {
					// The bundle names this run's host directory.
					bundleDir = filepath.Join(c.out, "bundles", name+"-"+vfile)
					opts.Env = hd.env(guests.HostDirMount)
					opts.Binds = []oci.Bind{{Source: hd.dir, Destination: guests.HostDirMount}}
					flags = guests.HostFIFORunscFlags
				}
				if _, err := os.Stat(bundleDir); errors.Is(err, os.ErrNotExist) {
					if _, err := oci.Write(bundleDir, opts); err != nil {
						return nil, err
					}
				}
				res, err := sandbox.Run(ctx, sandbox.RunOptions{
					Runsc: r.path, StateRoot: runtimes[r.name].StateRoot, Variant: v, Bundle: bundleDir,
					LogDir:  filepath.Join(logRoot, vfile),
					Debug:   c.debug,
					Flags:   flags,
					Timeout: c.timeout,
				})
				if err == nil {
					err = hd.remove()
				}
				if err != nil {
					return nil, fmt.Errorf("%s under %s: %w", name, vname, err)
				}
				runs = append(runs, toRun(name, vname, c.guestArgs, res))
			}
		}
	}

	d, err := report.Compare(variants, runs, expected)
	if err != nil {
		return nil, err
	}
	if err := writeReports(d, c.out); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("interrupted; partial reports in %s: %w", c.out, err)
	}
	return d, nil
}

// openStateBase sweeps the state bases of harness runs that died, then
// locks dir as this run's state base (a fresh temporary one when empty).
func openStateBase(dir string) (*sandbox.StateBase, error) {
	swept, err := sandbox.Sweep("", os.Stderr)
	for _, s := range swept {
		fmt.Fprintf(os.Stderr, "removed the state of a harness run that died: %s\n", s)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: sweeping old state: %v\n", err)
	}
	if dir == "" {
		return sandbox.NewStateBase("")
	}
	return sandbox.OpenStateBase(dir, os.Stderr)
}

// toRun turns a sandbox result into a report run, reading the guest's
// report from its stdout.
func toRun(guest, variant string, args []string, res *sandbox.Result) report.Run {
	r := report.Run{
		Guest: guest, Variant: variant, Args: args, ExitCode: res.ExitCode,
		LogDir: res.LogDir, DurationMS: res.Duration.Milliseconds(),
	}
	status := "ok"
	if f := res.Failure(); f != "" {
		r.Failure, status = f, "FAILED: "+f
	} else if rep, err := guestio.Read(bytes.NewReader(res.Stdout)); err != nil {
		r.Failure = fmt.Sprintf("no report on stdout (%v); exit status %d; logs in %s; last output: %s",
			err, res.ExitCode, res.LogDir, res.LastOutput(400))
		status = "FAILED: " + r.Failure
	} else {
		r.Report = rep
		if res.ExitCode != 0 {
			status = fmt.Sprintf("ok (report printed, exit status %d)", res.ExitCode)
		}
	}
	fmt.Fprintf(os.Stderr, "%s under %s: %s (%v)\n", guest, variant, status, res.Duration.Round(time.Millisecond))
	return r
}

// hostDir is the fresh host directory, holding a FIFO made on the host,
// that one run of a guest with Guest.HostFIFOEnv gets; dir is "" for other
// guests.
type hostDir struct {
	dir    string
	envVar string
}

// newHostDir makes OUT/hostdirs/GUEST/RUN and the FIFO in it for guest g,
// if g asks for one. The directory must not exist yet: each run starts
// afresh.
func newHostDir(out, guest, run string, g guests.Guest) (hostDir, error) {
	if g.HostFIFOEnv == "" {
		return hostDir{}, nil
	}
	dir, err := filepath.Abs(filepath.Join(out, "hostdirs", guest, run))
	if err != nil {
		return hostDir{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return hostDir{}, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return hostDir{}, fmt.Errorf("host directory for %s: %w", guest, err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, guests.HostFIFOName), 0o600); err != nil {
		os.RemoveAll(dir)
		return hostDir{}, fmt.Errorf("host FIFO for %s: %w", guest, err)
	}
	return hostDir{dir: dir, envVar: g.HostFIFOEnv}, nil
}

// env returns the guest's environment entry naming the FIFO as the guest
// sees it, in directory dir, or nothing.
func (h hostDir) env(dir string) []string {
	if h.dir == "" {
		return nil
	}
	return []string{h.envVar + "=" + filepath.Join(dir, guests.HostFIFOName)}
}

// remove deletes the directory and its FIFO after the run.
func (h hostDir) remove() error {
	if h.dir == "" {
		return nil
	}
	return os.RemoveAll(h.dir)
}
