// Package build builds stock and patched runsc from a gVisor module version
// and keeps the results in a cache keyed by (gVisor version, series hash,
// Go version), so that the same inputs are never compiled twice.
//
// A build happens in a private temporary tree under the cache directory and
// is moved into place with a rename only when complete: an interrupted
// build leaves nothing that a later build would trust, and its temporary
// tree is removed by the next build of the same version.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"golang.org/x/mod/semver"
	"golang.org/x/sys/unix"
)

// versionVar is the variable runsc prints for --version.
const versionVar = "gvisor.dev/gvisor/runsc/version.version"

// Options says what to build.
type Options struct {
	// Version is the gVisor module version (already resolved).
	Version string
	// Series is the patch series; Sets selects patch sets from it (all
	// sets when empty).
	Series *series.Series
	Sets   []string
	// CacheDir holds finished builds and temporary build trees.
	CacheDir string
	// SkipTests skips `go test` of the patched packages.
	SkipTests bool
	// DeferTests lets Build return as soon as the patched runsc is built
	// and booted, while the Go tests of the patched packages run in the
	// background; the binary enters the cache only once they pass. The
	// caller must call Result.Finish, which waits for them.
	DeferTests bool
	// StockReady, if set, is called with the stock runsc as soon as it is
	// ready (cached, or built and booted), before the patched build
	// starts, so that a caller can put it to work meanwhile. It must not
	// block.
	StockReady func(Artifact)
	// StockOnly builds (or takes from the cache) stock runsc only; the
	// Result's Patched is left empty.
	StockOnly bool
	// Progress receives one line per step, and a heartbeat during long
	// steps. Nil discards.
	Progress io.Writer
	// Download fetches the module; nil means gvisor.Download.
	Download func(ctx context.Context, version string) (*gvisor.Module, error)
	// Boot proves that a runsc binary runs: a build is not done until its
	// runsc has run a guest. It is called with each freshly built binary
	// before the binary enters the cache; an error fails the build and
	// nothing is cached. On success it says what ran, for the manifest.
	// Nil skips the check (unit tests with a fake toolchain only).
	Boot BootFunc
}

// BootFunc runs a guest under the runsc binary at path and returns a
// one-line description of what ran, or why the binary does not run (a
// Sentry panic's first lines, say).
type BootFunc func(ctx context.Context, runsc string) (string, error)

// Artifact is one built runsc.
type Artifact struct {
	// Path is the binary in the cache.
	Path string `json:"path"`
	// Stamp is what `runsc --version` prints as the version.
	Stamp string `json:"stamp"`
	// Cached is true when the binary came from the cache.
	Cached bool `json:"cached"`
	// Booted says what guest ran under the binary before it was cached
	// (Options.Boot), or is empty if it was built without a boot check.
	Booted string `json:"booted,omitempty"`
}

// Result is a finished build.
type Result struct {
	// Version is the gVisor module version.
	Version string `json:"gvisor_version"`
	// GoVersion is the toolchain that built both binaries.
	GoVersion string `json:"go_version"`
	// SeriesID names the patched build's patches
	// ("restartsys-core-<hash>", or "restartsys-compat+core-<hash>" for a
	// tree that needs the compat set).
	SeriesID string `json:"series_id"`
	// StockSeriesID names the baseline patches the stock build carries
	// ("restartsys-compat-<hash>"), or is empty: stock is the module as is.
	StockSeriesID string `json:"stock_series_id,omitempty"`
	// Plan says, per patch, whether it was applied or is upstream.
	Plan []series.Decision `json:"plan"`
	// Stock is runsc built from the unmodified module.
	Stock Artifact `json:"stock"`
	// Patched is runsc built with the series applied.
	Patched Artifact `json:"patched"`
	// Shim is gVisor's containerd shim of the same snapshot (BuildShim),
	// when the caller built it; InstallTo installs it too.
	Shim Artifact `json:"shim,omitempty"`

	// pending, with Options.DeferTests, waits for the patched packages'
	// tests and then caches the patched runsc (Finish).
	pending func() error
}

// Finish waits for the Go tests of the patched packages that Build left
// running (Options.DeferTests) and, if they pass, moves the patched runsc
// into the cache and points Patched.Path at it; if they fail, the binary is
// dropped and Patched.Path is cleared. Until Finish returns, the build keeps
// its version's lock and its temporary tree, where Patched.Path lies.
// Without deferred tests it returns nil at once. It may be called more than
// once; later calls return the first one's result.
func (r *Result) Finish() error {
	if r.pending == nil {
		return nil
	}
	return r.pending()
}

// manifest is written beside each cached binary.
type manifest struct {
	Kind      string            `json:"kind"`
	Version   string            `json:"gvisor_version"`
	ModuleSum string            `json:"module_sum"`
	GoVersion string            `json:"go_version"`
	SeriesID  string            `json:"series_id,omitempty"`
	Plan      []series.Decision `json:"plan,omitempty"`
	Stamp     string            `json:"stamp"`
	Built     time.Time         `json:"built"`
	Seconds   float64           `json:"build_seconds"`
	// Booted says what guest ran under the binary before it was cached.
	Booted string `json:"booted,omitempty"`
}

func writeManifest(dir string, m manifest) error {
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "manifest.json"), append(js, '\n'), 0o644)
}

// DefaultCacheDir is $RESTARTSYS_CACHE, or restartsys in the user's cache
// directory.
func DefaultCacheDir() string {
	if d := os.Getenv("RESTARTSYS_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "restartsys")
	}
	return filepath.Join(os.TempDir(), "restartsys-cache")
}

type builder struct {
	opts     Options
	progress io.Writer
	goVer    string
	start    time.Time
	// tmp is this build's private tree under the cache's tmp directory.
	tmp string
}

func (b *builder) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "[%5.1fs] "+format+"\n", append([]any{time.Since(b.start).Seconds()}, args...)...)
}

// Build returns stock and patched runsc for opts.Version, from the cache
// when it has them and by building them otherwise.
//
// Both binaries carry the series' baseline patches that the tree needs
// (the compat set: toolchain fixes for old snapshots), so that the stock
// runsc is the unmodified release as its own toolchain fixes would have it
// and runs at all; the patched one carries the selected sets on top.
func Build(ctx context.Context, opts Options) (*Result, error) {
	b := &builder{opts: opts, progress: opts.Progress, start: time.Now()}
	if b.progress == nil {
		b.progress = io.Discard
	}
	if opts.Download == nil {
		opts.Download = gvisor.Download
	}
	if opts.Series == nil {
		return nil, errors.New("no patch series given")
	}
	selected, err := opts.Series.Select(opts.Sets)
	if err != nil {
		return nil, err
	}
	goVer, err := goVersion(ctx)
	if err != nil {
		return nil, err
	}
	b.goVer = goVer
	res := &Result{Version: opts.Version, GoVersion: goVer}

	for _, d := range []string{"runsc", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(opts.CacheDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	// A finished entry is complete once it exists (it is renamed into
	// place), so a cached stock runsc needs no lock: StockOnly does not
	// wait behind another run building this version's patched runsc.
	if opts.StockOnly {
		if mod, err := opts.Download(ctx, opts.Version); err == nil {
			if id, err := b.identify(ctx, mod, selected); err == nil {
				if art, ok := b.cached(ctx, id.stockDir, mod.Sum); ok {
					res.Stock, res.StockSeriesID = art, id.stockID
					return res, nil
				}
			}
		}
	}
	// One build per gVisor version at a time: a second harness run of the
	// same version waits here and then finds the first one's result.
	unlock, err := lockFile(ctx, filepath.Join(opts.CacheDir, "locks", opts.Version+".lock"), b)
	if err != nil {
		return nil, err
	}
	// With deferred tests, the lock and the temporary tree go to
	// Result.Finish when Build returns the unfinished patched build.
	handedOff := false
	defer func() {
		if !handedOff {
			unlock()
		}
	}()
	b.sweep()

	b.logf("downloading %s@%s", gvisor.ModulePath, opts.Version)
	mod, err := opts.Download(ctx, opts.Version)
	if err != nil {
		return nil, err
	}
	id, err := b.identify(ctx, mod, selected)
	if err != nil {
		return nil, err
	}
	res.SeriesID, res.StockSeriesID = id.seriesID, id.stockID
	stock, stockOK := b.cached(ctx, id.stockDir, mod.Sum)
	if stockOK && opts.StockOnly {
		res.Stock = stock
		return res, nil
	}
	patched, patchedOK := Artifact{}, false
	if stockOK {
		patched, patchedOK = b.cached(ctx, id.patchedDir, mod.Sum)
	}
	if stockOK && patchedOK {
		m, _ := readManifest(id.patchedDir, mod.Sum, goVer)
		res.Plan, res.Stock, res.Patched = m.Plan, stock, patched
		b.stockReady(stock)
		return res, nil
	}

	tmp, err := os.MkdirTemp(filepath.Join(opts.CacheDir, "tmp"), opts.Version+".")
	if err != nil {
		return nil, err
	}
	defer func() {
		if !handedOff {
			os.RemoveAll(tmp)
		}
	}()
	b.tmp = tmp
	src := filepath.Join(tmp, "src")
	b.logf("copying module source to %s", src)
	if err := fscopy.Tree(mod.Dir, src); err != nil {
		return nil, fmt.Errorf("copying module source: %w", err)
	}

	plan, err := opts.Series.Plan(ctx, src, opts.Version, id.patchedSel)
	if err != nil {
		return nil, err
	}
	res.Plan = plan
	for _, d := range plan {
		b.logf("patch %s: %s%s", d.ID, d.Status, detail(d.Detail))
		if d.Status == series.Failed {
			return nil, &series.ApplyError{Patch: d.Patch, Version: opts.Version, Git: d.Detail}
		}
	}
	basePlan, restPlan := splitPlan(opts.Series, plan)
	if n := countApplied(basePlan); n > 0 {
		b.logf("applying %d baseline patch(es) to both trees with git apply", n)
		if err := opts.Series.ApplyPlan(ctx, src, opts.Version, basePlan); err != nil {
			return nil, err
		}
	}

	if stockOK {
		b.logf("stock runsc is cached: %s", id.stockDir)
		res.Stock = stock
	} else {
		m := manifest{Kind: "stock", Version: opts.Version, ModuleSum: mod.Sum, GoVersion: goVer,
			SeriesID: id.stockID, Plan: basePlan, Stamp: id.stockStamp}
		booted, err := b.buildInto(ctx, src, filepath.Join(tmp, "stock"), id.stockDir, "runsc-stock", m)
		if err != nil {
			return nil, err
		}
		res.Stock = Artifact{Path: filepath.Join(id.stockDir, "runsc"), Stamp: id.stockStamp, Booted: booted}
	}
	if opts.StockOnly {
		return res, nil
	}
	b.stockReady(res.Stock)

	b.logf("applying %d patch(es) with git apply", countApplied(restPlan))
	if err := opts.Series.ApplyPlan(ctx, src, opts.Version, restPlan); err != nil {
		return nil, err
	}
	deferTests := opts.DeferTests && !opts.SkipTests
	if !opts.SkipTests && !deferTests {
		if err := b.testPatched(ctx, src, plan); err != nil {
			return nil, err
		}
	}
	stamp := PatchedStamp(opts.Version, id.seriesID, plan)
	m := manifest{Kind: "patched", Version: opts.Version, ModuleSum: mod.Sum, GoVersion: goVer, SeriesID: id.seriesID, Plan: plan, Stamp: stamp}
	work := filepath.Join(tmp, "patched")
	m, err = b.buildBinary(ctx, src, work, "runsc-patched", m)
	if err != nil {
		return nil, err
	}
	if deferTests {
		res.Patched = Artifact{Path: filepath.Join(work, "runsc"), Stamp: stamp, Booted: m.Booted}
		res.pending = b.deferTests(ctx, res, src, plan, work, id.patchedDir, m, func() {
			os.RemoveAll(tmp)
			unlock()
		})
		handedOff = true
		return res, nil
	}
	if err := b.commit(work, id.patchedDir, "runsc-patched", m); err != nil {
		return nil, err
	}
	res.Patched = Artifact{Path: filepath.Join(id.patchedDir, "runsc"), Stamp: stamp, Booted: m.Booted}
	return res, nil
}

// stockReady hands the stock runsc to Options.StockReady, if set.
func (b *builder) stockReady(a Artifact) {
	if b.opts.StockReady != nil {
		b.opts.StockReady(a)
	}
}

// deferTests starts the Go tests of the patched packages in the background
// and returns what Result.Finish calls: wait for them, then cache the
// binary built in work (commit) or drop it, and release (the lock and the
// temporary tree) in either case.
func (b *builder) deferTests(ctx context.Context, res *Result, src string, plan []series.Decision, work, final string, m manifest, release func()) func() error {
	done := make(chan error, 1)
	go func() { done <- b.testPatched(ctx, src, plan) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			defer release()
			if err = <-done; err != nil {
				res.Patched = Artifact{}
				return
			}
			if err = b.commit(work, final, "runsc-patched", m); err != nil {
				res.Patched = Artifact{}
				return
			}
			res.Patched.Path = filepath.Join(final, "runsc")
		})
		return err
	}
}

// identity is what names a version's two builds in the cache and in their
// stamps.
type identity struct {
	// stockID is the series id of the baseline patches the tree needs, or
	// "" when it needs none (the stock runsc is then the module as is).
	stockID, stockStamp, stockDir string
	// patchedSel is the patched build's patches: the baseline ones the
	// tree needs, then the selected sets.
	patchedSel           []*series.Patch
	seriesID, patchedDir string
}

// identify decides which baseline patches mod's tree needs (read from the
// module cache, which is left as it is) and names the builds: a tree that
// needs none keeps the names it had before baseline sets existed.
func (b *builder) identify(ctx context.Context, mod *gvisor.Module, selected []*series.Patch) (identity, error) {
	ser, v := b.opts.Series, b.opts.Version
	basePlan, err := ser.Plan(ctx, mod.Dir, v, ser.BaselinePatches())
	if err != nil {
		return identity{}, err
	}
	var base []*series.Patch
	for _, d := range basePlan {
		switch d.Status {
		case series.Failed:
			return identity{}, &series.ApplyError{Patch: d.Patch, Version: v, Git: d.Detail}
		case series.Apply:
			base = append(base, d.Patch)
		}
	}
	var fixes []*series.Patch
	for _, p := range selected {
		if !ser.IsBaseline(p) {
			fixes = append(fixes, p)
		}
	}
	id := identity{stockStamp: v, stockDir: "stock-" + short(b.goVer)}
	if len(base) > 0 {
		id.stockID = ser.ID(base)
		id.stockStamp = PatchedStamp(v, id.stockID, basePlan)
		id.stockDir = "stock-" + ser.Hash(base)[:12] + "-" + short(b.goVer)
	}
	id.patchedSel = series.WithBaseline(base, fixes)
	id.seriesID = ser.ID(id.patchedSel)
	id.patchedDir = "patched-" + ser.Hash(id.patchedSel)[:12] + "-" + short(b.goVer)
	verDir := filepath.Join(b.opts.CacheDir, "runsc", v)
	id.stockDir = filepath.Join(verDir, id.stockDir)
	id.patchedDir = filepath.Join(verDir, id.patchedDir)
	return id, nil
}

// splitPlan separates the decisions on baseline patches from the others.
func splitPlan(ser *series.Series, plan []series.Decision) (base, rest []series.Decision) {
	for _, d := range plan {
		if ser.IsBaseline(d.Patch) {
			base = append(base, d)
		} else {
			rest = append(rest, d)
		}
	}
	return base, rest
}

// cached returns the finished build in dir, if there is one for the module
// with hash sum and this toolchain. A build cached before boot checks
// existed is booted now (when Options.Boot is set); one that fails is
// removed, so it is never taken as good again.
func (b *builder) cached(ctx context.Context, dir, sum string) (Artifact, bool) {
	m, ok := readManifest(dir, sum, b.goVer)
	if !ok {
		return Artifact{}, false
	}
	art := Artifact{Path: filepath.Join(dir, "runsc"), Stamp: m.Stamp, Cached: true, Booted: m.Booted}
	if m.Booted == "" && b.opts.Boot != nil {
		b.logf("booting cached %s (built before boot checks)", art.Path)
		booted, err := b.opts.Boot(ctx, art.Path)
		if err != nil {
			b.logf("cached %s does not boot, removing it: %v", art.Path, err)
			os.RemoveAll(dir)
			return Artifact{}, false
		}
		m.Booted, art.Booted = booted, booted
		_ = writeManifest(dir, m)
	}
	b.logf("cached: %s", art.Path)
	return art, true
}

// PatchedStamp is the version a patched runsc reports: the module version
// with the series id and the applied patch ids as semver build metadata,
// e.g. v0.0.0-20260518063529-209a0ce076a1+restartsys-core-1a2b3c4d5e6f.0001.0002.
func PatchedStamp(version, seriesID string, plan []series.Decision) string {
	s := version + "+" + seriesID
	for _, d := range plan {
		if d.Status == series.Apply {
			s += "." + d.ID
		}
	}
	return s
}

func countApplied(plan []series.Decision) int {
	n := 0
	for _, d := range plan {
		if d.Status == series.Apply {
			n++
		}
	}
	return n
}

func detail(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// buildInto builds runsc from src into work, boots it (Options.Boot),
// writes its manifest, and renames work to final. It returns what the boot
// check ran.
func (b *builder) buildInto(ctx context.Context, src, work, final, label string, m manifest) (string, error) {
	m, err := b.buildBinary(ctx, src, work, label, m)
	if err != nil {
		return "", err
	}
	if err := b.commit(work, final, label, m); err != nil {
		return "", err
	}
	return m.Booted, nil
}

// buildBinary builds runsc from src into work and boots it (Options.Boot),
// returning m completed with the build time and what booted.
func (b *builder) buildBinary(ctx context.Context, src, work, label string, m manifest) (manifest, error) {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return m, err
	}
	t0 := time.Now()
	bin := filepath.Join(work, "runsc")
	args := []string{"build", "-trimpath", "-o", bin, "-ldflags", "-X " + versionVar + "=" + m.Stamp, "./runsc"}
	if err := b.runGo(ctx, src, label, args...); err != nil {
		return m, fmt.Errorf("building %s: %w", label, err)
	}
	m.Built = time.Now().UTC()
	m.Seconds = time.Since(t0).Seconds()
	b.logf("built %s in %.0fs", label, m.Seconds)
	if b.opts.Boot != nil {
		b.logf("booting %s", label)
		booted, err := b.opts.Boot(ctx, bin)
		if err != nil {
			if ctx.Err() != nil {
				return m, ctx.Err()
			}
			return m, fmt.Errorf("%s (%s) was built but does not run, so it is not cached: %w", label, m.Stamp, err)
		}
		m.Booted = booted
		b.logf("%s runs: %s", label, booted)
	}
	return m, nil
}

// commit writes m beside the binary in work and moves work into place as
// the cache entry final, replacing a stale one.
func (b *builder) commit(work, final, label string, m manifest) error {
	if err := writeManifest(work, m); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	// A stale entry (other module hash, say) is replaced.
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(work, final); err != nil {
		return err
	}
	b.logf("cached %s: %s", label, filepath.Join(final, "runsc"))
	return nil
}

// testPatched runs the Go tests of every package a applied patch touches.
func (b *builder) testPatched(ctx context.Context, src string, plan []series.Decision) error {
	var applied []*series.Patch
	for _, d := range plan {
		if d.Status == series.Apply {
			applied = append(applied, d.Patch)
		}
	}
	pkgs := b.opts.Series.Packages(applied)
	if len(pkgs) == 0 {
		return nil
	}
	// -trimpath as the builds have it, so that the tests reuse the
	// packages the patched build has just compiled.
	args := []string{"test", "-trimpath", "-count=1"}
	for _, p := range pkgs {
		args = append(args, "./"+p)
	}
	b.logf("testing patched packages: %s", strings.Join(pkgs, " "))
	if err := b.runGo(ctx, src, "go test", args...); err != nil {
		return fmt.Errorf("patched gVisor packages fail their tests: %w", err)
	}
	return nil
}

// runGo runs the go command in dir with the build environment, printing a
// heartbeat while it runs. Its output is returned in the error on failure.
//
// The go command and everything it starts (compile, link, test binaries)
// die with the harness, even when the harness is killed with SIGKILL and
// has no chance to clean up: go gets SIGKILL as its parent-death signal,
// and, when the harness may (it is root), go runs as the first process of
// a PID namespace of its own, so that the kernel kills every process left
// in that namespace when go dies. Without that, sweep kills the strays of
// a dead build before removing its tree.
func (b *builder) runGo(ctx context.Context, dir, label string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = buildEnv(os.Environ())
	if b.tmp != "" {
		// go's own work directory goes into the build tree, so that a
		// killed build's is removed with it.
		gotmp := filepath.Join(b.tmp, "gotmp")
		if err := os.MkdirAll(gotmp, 0o755); err != nil {
			return err
		}
		cmd.Env = append(cmd.Env, "GOTMPDIR="+gotmp)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Kill the whole process group (compile and link children too) when
	// the context ends.
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true, Pdeathsig: unix.SIGKILL}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWPID
	}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	t0 := time.Now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				b.logf("  ... %s still running (%.0fs)", label, time.Since(t0).Seconds())
			}
		}
	}()
	err := runLocked(cmd)
	close(done)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w\n%s", err, tail(out.String(), 40))
	}
	return nil
}

// runLocked runs cmd from a goroutine locked to its OS thread until cmd
// has exited. The parent-death signal fires when the *thread* that forked
// the child exits, not the process; the Go runtime ends a thread only when
// a goroutine locked to it exits, and this one unlocks before returning,
// so the thread outlives the child.
func runLocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}

// buildEnv is the environment for go commands in a gVisor tree: a static
// runsc, the module's own go.sum, no workspace, and the local toolchain
// only (nothing is fetched but modules).
func buildEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CGO_ENABLED", "GOFLAGS", "GOWORK", "GOTOOLCHAIN":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "CGO_ENABLED=0", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// goVersion identifies the toolchain: version, OS and architecture.
func goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOOS", "GOARCH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return "", fmt.Errorf("unexpected `go env` output %q", out)
	}
	return f[0] + "-" + f[1] + "-" + f[2], nil
}

// short is a short hash of s for directory names.
func short(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:8]
}

// readManifest reports whether dir holds a finished build of the module
// with hash sum by toolchain goVer.
func readManifest(dir, sum, goVer string) (manifest, bool) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil || json.Unmarshal(b, &m) != nil {
		return m, false
	}
	if m.ModuleSum != sum || m.GoVersion != goVer {
		return m, false
	}
	if st, err := os.Stat(filepath.Join(dir, "runsc")); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return m, false
	}
	return m, true
}

// sweep removes the temporary trees of earlier builds of this version that
// did not finish (killed, say), after killing any process still working in
// one (a compile or test binary whose go command died). It runs under the
// version's lock, so no live build owns them.
func (b *builder) sweep() {
	matches, _ := filepath.Glob(filepath.Join(b.opts.CacheDir, "tmp", b.opts.Version+".*"))
	for _, m := range matches {
		b.logf("removing unfinished build tree %s", m)
		for _, pid := range ProcsIn(m) {
			b.logf("  killing process %d left working in it", pid)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		os.RemoveAll(m)
	}
}

// ProcsIn returns the live processes whose working directory, executable
// or command line lies in dir.
func ProcsIn(dir string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	in := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		if st, _ := os.ReadFile(filepath.Join(base, "stat")); bytes.Contains(st, []byte(") Z ")) {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join(base, "cwd"))
		exe, _ := os.Readlink(filepath.Join(base, "exe"))
		raw, _ := os.ReadFile(filepath.Join(base, "cmdline"))
		found := in(cwd) || in(exe)
		for _, a := range strings.Split(string(raw), "\x00") {
			if found {
				break
			}
			found = in(a) || strings.Contains(a, dir+"/")
		}
		if found {
			pids = append(pids, pid)
		}
	}
	return pids
}

// lockFile takes an exclusive flock on path, waiting (and saying so) while
// another process holds it. The lock goes with the process, even if it is
// killed.
func lockFile(ctx context.Context, path string, b *builder) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	said := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !said {
			b.logf("waiting for another build of the same version (%s)", path)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Install copies a built binary to dst atomically (a temporary file in the
// same directory, then a rename), so that a running runsc at dst is never
// overwritten in place.
func Install(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := fscopy.File(src, tmp, 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	// A leftover tmp keeps its old mode through O_TRUNC.
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// RunscVersion is the first line of `runsc --version`, as a check that the
// binary runs and carries its stamp.
func RunscVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return fmt.Sprintf("(runsc --version failed: %v)", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// StampVersion returns the gVisor module version in a `runsc --version`
// line ("runsc version v0.0.0-...+restartsys-..."), or "" if it names
// none.
func StampVersion(line string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(line, "runsc version "), "+")
	if !semver.IsValid(v) {
		return ""
	}
	return v
}

// InstallTo copies both binaries into dir as runsc-stock and runsc-patched,
// and the shim, if built, as containerd-shim-runsc-v1 (Install:
// atomically), and points the result's paths at the copies.
func (r *Result) InstallTo(dir string) error {
	for _, a := range []struct {
		art  *Artifact
		name string
	}{{&r.Stock, "runsc-stock"}, {&r.Patched, "runsc-patched"}, {&r.Shim, ShimName}} {
		if a.art.Path == "" {
			continue // no shim built
		}
		dst, err := filepath.Abs(filepath.Join(dir, a.name))
		if err != nil {
			return err
		}
		if err := Install(a.art.Path, dst); err != nil {
			return fmt.Errorf("writing %s: %w", dst, err)
		}
		a.art.Path = dst
	}
	return nil
}

// CheckOutDir fails early, before any build, if dir cannot receive the
// binaries: it exists and is not a directory, or cannot be made.
func CheckOutDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("--out %s: not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
