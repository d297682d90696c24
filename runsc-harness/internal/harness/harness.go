// Package harness is the run loop of runsc-harness, free of flags: it runs
// guest programs natively and under each runsc binary × variant, compares
// every runsc run with the native one (report.Compare), and writes the
// reports. The commands (run, verify, docs, soak, e2e, bench) fill an
// Options and call Run; none keeps a loop of its own.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// Runsc is one runsc binary that guests run under.
type Runsc struct {
	// Name names it in variant names ("stock", "patched-v2").
	Name string
	// Kind says whether it is a stock or a patched runsc.
	Kind report.Kind
	// Path is the binary.
	Path string
	// GVisor is the gVisor module version it was built from; empty when
	// unknown (a binary given by path).
	GVisor string
}

// Options say what Run runs.
type Options struct {
	// Guests are guest names (guests.Lookup), run in order.
	Guests []string
	// GuestArgs follow argv[0] of every guest (with a single guest).
	GuestArgs []string
	// Runscs are the runsc binaries; with none, guests run natively only.
	Runscs []Runsc
	// Variants are the runsc configurations each binary runs under.
	Variants []sandbox.Variant
	// Timeout is the deadline of each run; a guest still running then is
	// killed and reported as a failure.
	Timeout time.Duration
	// Out receives the reports and logs; it is made if missing.
	Out string
	// State is the private runsc state base; a fresh temporary one in
	// StateParent (the temporary directory when empty) when State is empty.
	// runsc's control sockets and the guests' host FIFOs live below it, so
	// its path must stay short.
	State, StateParent string
	// Binaries are guest binaries built elsewhere (by Bazel, say), by
	// guest name; the others are built from the repository.
	Binaries map[string]string
	// Done are runs made beforehand (Collect); Run and Collect take them
	// instead of making a run of the same guest and variant again.
	Done []report.Run
	// Expected are divergences that do not count as problems.
	Expected []report.Expected
	// AllowStale keeps an Expected entry that no longer diverges from
	// being a problem (for old snapshots, say); it is still reported.
	AllowStale bool
	// Debug passes --debug to runsc.
	Debug bool
	// RepoRoot is the repository whose guests are built; found from the
	// working directory when empty.
	RepoRoot string
	// Log receives progress lines; Stdout the Markdown report. Nil
	// discards.
	Log, Stdout io.Writer

	// netns is the network namespace of --network=sandbox runs
	// (StateBase.NetNS), set by Collect.
	netns string
}

// CheckRunscs fails unless every binary of rs is an executable file.
func CheckRunscs(rs []Runsc) error {
	for _, r := range rs {
		fi, err := os.Stat(r.Path)
		if err != nil {
			return fmt.Errorf("runsc %s: %w", r.Name, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("runsc %s: %s is not an executable file", r.Name, r.Path)
		}
	}
	return nil
}

// VariantName names a runsc × variant: NAME/PLATFORM/NETWORK, with
// /directfs=X when not the default.
func VariantName(r Runsc, v sandbox.Variant) string {
	n := r.Name + "/" + v.Platform + "/" + v.Network
	if v.DirectFS != "default" {
		n += "/directfs=" + v.DirectFS
	}
	return n
}

// Run runs o.Guests natively and under every runsc × variant (Collect),
// compares, writes report.json, junit.xml and report.md into o.Out, and
// returns the comparison. It fails only when the runs could not be made,
// or a sandbox could not be cleaned up; divergences are in the document.
func Run(ctx context.Context, o Options) (*report.Document, error) {
	if len(o.Runscs) > 0 {
		if err := sandbox.CheckRoot(); err != nil {
			return nil, err
		}
	}
	out, err := outDir(o)
	if err != nil {
		return nil, err
	}
	o.Out = out
	runs, err := Collect(ctx, o, true)
	if err != nil {
		return nil, err
	}
	var variants []report.Variant
	for _, r := range o.Runscs {
		if r.GVisor == "" {
			// A binary given by path: its stamp says what it was built from.
			r.GVisor = build.StampVersion(build.RunscVersion(ctx, r.Path))
		}
		for _, v := range o.Variants {
			variants = append(variants, report.Variant{
				Name: VariantName(r, v), Kind: r.Kind, Runsc: r.Path, GVisor: r.GVisor,
				Platform: v.Platform, Network: v.Network, DirectFS: v.DirectFS,
			})
		}
	}
	d, err := report.Compare(variants, runs, o.Expected)
	if err != nil {
		return nil, err
	}
	d.AllowStale = o.AllowStale
	if err := WriteReports(d, out, orDiscard(o.Stdout), orDiscard(o.Log)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("interrupted; partial reports in %s: %w", out, err)
	}
	return d, nil
}

// Collect runs o.Guests under every runsc × variant, and natively too when
// native is set, except the runs o.Done already holds, and returns o.Done
// with the new runs, in order: per guest, native first, then each runsc ×
// variant. Logs go under o.Out/logs. Commands that want native Linux
// judged while they build runsc, or one runsc's runs while they build
// another, call it for each part and hand the runs to Run in o.Done.
func Collect(ctx context.Context, o Options, native bool) (_ []report.Run, retErr error) {
	log := orDiscard(o.Log)
	if len(o.Runscs) > 0 {
		if err := sandbox.CheckRoot(); err != nil {
			return nil, err
		}
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	out, bins, known := p.out, p.bins, p.known

	// One private state root per runsc binary, in a state base locked by
	// this run, cleaned up at the end; a run killed before that is cleaned
	// up by the next one's sweep.
	// A guest's host FIFO lives in a fresh directory per run, under a
	// short path (the guest may keep it in a small buffer): in the state
	// base, whose sweep removes it if this run dies, or without runsc in a
	// temporary directory.
	roots := map[string]string{}
	hostRoot := ""
	if len(o.Runscs) == 0 {
		tmp, err := os.MkdirTemp(o.StateParent, "rh-hostdirs-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		hostRoot = tmp
	} else {
		sb, err := openStateBase(o.State, o.StateParent, log)
		if err != nil {
			return nil, err
		}
		hostRoot = sb.Dir
		// A sandbox that could not be cleaned up fails the run, even one
		// whose guests all passed.
		defer func() {
			if err := sb.Close(); err != nil {
				fmt.Fprintf(log, "cleanup of %s: %v\n", sb.Dir, err)
				if retErr == nil {
					retErr = err
				}
			}
		}()
		for _, r := range o.Runscs {
			rt, err := sb.Runtime(r.Name, r.Path)
			if err != nil {
				return nil, err
			}
			roots[r.Name] = rt.StateRoot
		}
		// --network=sandbox copies the interfaces of the container's
		// network namespace: give it one with its loopback up, as a
		// container runtime would.
		for _, v := range o.Variants {
			if v.Network == "sandbox" && o.netns == "" {
				if o.netns, err = sb.NetNS(); err != nil {
					return nil, err
				}
			}
		}
	}

	done := map[[2]string]report.Run{}
	for _, r := range o.Done {
		done[[2]string{r.Guest, r.Variant}] = r
	}
	var runs []report.Run
	for _, name := range o.Guests {
		if ctx.Err() != nil {
			break
		}
		g := known[name]
		logRoot := filepath.Join(out, "logs", name)
		if r, ok := done[[2]string{name, report.NativeVariant}]; ok {
			runs = append(runs, r)
		} else if native {
			res, err := runNative(ctx, o, hostRoot, g, bins[name], filepath.Join(logRoot, "native"))
			if err != nil {
				return nil, err
			}
			runs = append(runs, ToRun(name, report.NativeVariant, o.GuestArgs, res, log))
		}
		for _, rs := range o.Runscs {
			for _, v := range o.Variants {
				vname := VariantName(rs, v)
				if r, ok := done[[2]string{name, vname}]; ok {
					runs = append(runs, r)
					continue
				}
				if ctx.Err() != nil {
					break
				}
				res, err := runUnder(ctx, o, out, hostRoot, g, bins[name], rs, roots[rs.Name], v, filepath.Join(logRoot, strings.ReplaceAll(vname, "/", "_")))
				if err != nil {
					return nil, fmt.Errorf("%s under %s: %w", name, vname, err)
				}
				runs = append(runs, ToRun(name, vname, o.GuestArgs, res, log))
			}
		}
	}
	return runs, nil
}

// outDir is o.Out made absolute, or out/run-TIMESTAMP under the
// repository when it is empty.
func outDir(o Options) (string, error) {
	if o.Out != "" {
		return filepath.Abs(o.Out)
	}
	repo := o.RepoRoot
	if repo == "" {
		var err error
		if repo, err = guests.RepoRoot("."); err != nil {
			return "", err
		}
	}
	return filepath.Join(repo, "out", "run-"+time.Now().Format("20060102-150405")), nil
}

// prepared is what Collect sets up before the first run: the
// output directory and the guests with their binaries.
type prepared struct {
	out   string
	bins  map[string]string
	known map[string]guests.Guest
}

// prepare makes o.Out (out/run-TIMESTAMP under the repository when empty)
// and looks up and builds o.Guests (or takes o.Binaries).
func prepare(ctx context.Context, o Options) (*prepared, error) {
	out, err := outDir(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	repo := o.RepoRoot
	if repo == "" && len(o.Binaries) < len(o.Guests) {
		if repo, err = guests.RepoRoot("."); err != nil {
			return nil, err
		}
	}
	builder := &guests.Builder{RepoRoot: repo, OutDir: filepath.Join(repo, "out", "guests"), Log: orDiscard(o.Log)}
	p := &prepared{out: out, bins: map[string]string{}, known: map[string]guests.Guest{}}
	for _, name := range o.Guests {
		g, err := guests.Lookup(name)
		if err != nil {
			return nil, err
		}
		p.known[name] = g
		if bin, ok := o.Binaries[name]; ok {
			p.bins[name] = bin
			continue
		}
		if p.bins[name], err = builder.Build(ctx, g); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// runNative runs guest g natively, with a fresh host directory if it takes
// a host FIFO.
func runNative(ctx context.Context, o Options, hostRoot string, g guests.Guest, bin, logDir string) (*sandbox.Result, error) {
	hd, err := newHostDir(hostRoot, g.Name, "native", nativeFIFO(g))
	if err != nil {
		return nil, err
	}
	res, err := sandbox.Native(ctx, sandbox.NativeOptions{
		Binary: bin, Args: o.GuestArgs, Env: hd.env(hd.dir), LogDir: logDir, Timeout: o.Timeout,
		Namespaces: g.Namespaces,
	})
	if err == nil {
		err = hd.remove()
	}
	return res, err
}

// runUnder runs guest g under runsc r in variant v, from a bundle made once
// per guest (and per host directory, for a guest with a host FIFO).
func runUnder(ctx context.Context, o Options, out, hostRoot string, g guests.Guest, bin string, r Runsc, root string, v sandbox.Variant, logDir string) (*sandbox.Result, error) {
	vfile := filepath.Base(logDir)
	hd, err := newHostDir(hostRoot, g.Name, vfile, g)
	if err != nil {
		return nil, err
	}
	opts := oci.Options{Binary: bin, Args: o.GuestArgs, HostNetwork: v.Network == "host", ExtraCaps: g.Caps}
	bundleDir := filepath.Join(out, "bundles", g.Name)
	switch v.Network {
	case "host":
		bundleDir += "-hostnet"
	case "sandbox":
		// The bundle names this run's network namespace.
		opts.NetNS = o.netns
		bundleDir = filepath.Join(out, "bundles", g.Name+"-"+vfile)
	}
	var flags []string
	if hd.dir != "" {
		// The bundle names this run's host directory.
		bundleDir = filepath.Join(out, "bundles", g.Name+"-"+vfile)
		opts.Env = hd.env(guests.HostDirMount)
		opts.Binds = []oci.Bind{{Source: hd.dir, Destination: guests.HostDirMount}}
		flags = guests.HostFIFORunscFlags
	}
	if g.ImageFIFOEnv != "" {
		// The FIFO is part of the image: made in this run's rootfs.
		bundleDir = filepath.Join(out, "bundles", g.Name+"-"+vfile)
		opts.Env = append(opts.Env, g.ImageFIFOEnv+"="+guests.ImageFIFOPath)
		opts.FIFOs = []string{guests.ImageFIFOPath}
	}
	flags = append(append([]string(nil), flags...), g.RunscFlags...)
	// A shared bundle is written once; one that names this run's host
	// directory or network namespace, or holds its image FIFO, is written
	// for the run.
	perRun := hd.dir != "" || opts.NetNS != "" || g.ImageFIFOEnv != ""
	if _, err := os.Stat(bundleDir); perRun || errors.Is(err, os.ErrNotExist) {
		if _, err := oci.Write(bundleDir, opts); err != nil {
			return nil, err
		}
	}
	res, err := sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: r.Path, StateRoot: root, Variant: v, Bundle: bundleDir,
		LogDir: logDir, Debug: o.Debug, Flags: flags, Timeout: o.Timeout,
	})
	if err == nil {
		err = hd.remove()
	}
	return res, err
}

// OpenStateBase sweeps the state bases of harness runs that died, then
// locks dir as this run's state base (a fresh temporary one when empty).
func OpenStateBase(dir string, log io.Writer) (*sandbox.StateBase, error) {
	return openStateBase(dir, "", log)
}

// openStateBase is OpenStateBase with the parent of a fresh base.
func openStateBase(dir, parent string, log io.Writer) (*sandbox.StateBase, error) {
	log = orDiscard(log)
	swept, err := sandbox.Sweep(parent, log)
	for _, s := range swept {
		fmt.Fprintf(log, "removed the state of a harness run that died: %s\n", s)
	}
	if err != nil {
		fmt.Fprintf(log, "warning: sweeping old state: %v\n", err)
	}
	if dir == "" {
		return sandbox.NewStateBase(parent)
	}
	return sandbox.OpenStateBase(dir, log)
}

// ToRun turns a sandbox result into a report run, reading the guest's
// report from its stdout, and says on log how the run went.
func ToRun(guest, variant string, args []string, res *sandbox.Result, log io.Writer) report.Run {
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
	fmt.Fprintf(orDiscard(log), "%s under %s: %s (%v)\n", guest, variant, status, res.Duration.Round(time.Millisecond))
	return r
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
