package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"golang.org/x/sys/unix"
)

// ShimName is the binary name containerd looks up for the runtime type
// io.containerd.runsc.v1.
const ShimName = "containerd-shim-runsc-v1"

// shimVersionVars are the variables the shim prints for -v: containerd's
// version package, v2 in newer snapshots and v1 in older ones (the linker
// ignores the one a snapshot does not have).
var shimVersionVars = []string{
	"github.com/containerd/containerd/v2/version.Version",
	"github.com/containerd/containerd/version.Version",
}

// ShimOptions say which shim to build.
type ShimOptions struct {
	// Version is the gVisor module version (already resolved).
	Version string
	// CacheDir holds the finished shim (CacheDir/shim/VERSION-GOVERSION/).
	CacheDir string
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// Download fetches the module; nil means gvisor.Download.
	Download func(ctx context.Context, version string) (*gvisor.Module, error)
	// OOMCompat builds a shim that goes on when it cannot lower its own
	// OOM score (oom_score_adj -999 needs CAP_SYS_RESOURCE, which a
	// machine's root may lack: this project's does), instead of failing
	// every container start. It is a separate cache entry, stamped
	// OOMCompatStamp after the module version.
	OOMCompat bool
}

// OOMCompatStamp ends the stamp of a shim built with ShimOptions.OOMCompat.
const OOMCompatStamp = "+restartsys-shim-oomcompat"

// oomErrRE is the statement of the shim's start that fails it when the
// OOM score cannot be set (pkg/shim/v1/manager.go, pkg/shim/service.go in
// older snapshots).
var oomErrRE = regexp.MustCompile(`return [^\n]*, fmt\.Errorf\("failed to set OOM Score on shim: %w", err\)`)

// shimTree copies the module into work/src and returns the copy, the tree
// the shim is built in. go build runs with -mod=mod (buildEnv), and in the
// module cache's own directory that rewrites an untidy go.mod in place
// (root ignores the tree's read-only modes): gVisor 2024-04-23's go.mod
// lists golang.org/x/exp as indirect, and a shim build there left the module
// cache corrupt for every later download check. With oomCompat the shim's
// OOM score failure is also made non-fatal in the copy.
func shimTree(modDir, work string, oomCompat bool) (string, error) {
	src := filepath.Join(work, "src")
	if err := fscopy.Tree(modDir, src); err != nil {
		return "", fmt.Errorf("copying the module: %w", err)
	}
	if !oomCompat {
		return src, nil
	}
	for _, rel := range []string{"pkg/shim/v1/manager.go", "pkg/shim/service.go"} {
		path := filepath.Join(src, rel)
		b, err := os.ReadFile(path)
		if err != nil || !oomErrRE.Match(b) {
			continue
		}
		b = oomErrRE.ReplaceAll(b, []byte("_ = err // restartsys OOM compat: no CAP_SYS_RESOURCE to lower the shim's OOM score"))
		os.Remove(path) // the copied files keep the cache's read-only modes
		return src, os.WriteFile(path, b, 0o644)
	}
	return "", errors.New("shim OOM compat: no shim source sets the OOM score as expected")
}

// HasCapSysResource reports whether this process has CAP_SYS_RESOURCE,
// without which gVisor's shim cannot lower its OOM score.
func HasCapSysResource() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}

// BuildShim builds gVisor's containerd shim, containerd-shim-runsc-v1
// (`go build ./shim` in the module of o.Version, static), or returns the
// cached one. The shim has no Sentry code and carries no patch: it is
// stamped with the bare module version, as stock runsc is, and says it for
// -v. The build runs in a PID namespace of its own (as runsc's), from a
// goroutine locked to its thread, so that nothing outlives a killed
// harness; a build that did not finish leaves only a temporary directory,
// which the next build removes.
func BuildShim(ctx context.Context, o ShimOptions) (Artifact, error) {
	b := &builder{opts: Options{Version: o.Version, CacheDir: o.CacheDir}, progress: o.Progress, start: time.Now()}
	if b.progress == nil {
		b.progress = io.Discard
	}
	if o.Download == nil {
		o.Download = gvisor.Download
	}
	if o.Version == "" {
		return Artifact{}, errors.New("shim: no gVisor version")
	}
	goVer, err := goVersion(ctx)
	if err != nil {
		return Artifact{}, err
	}
	final := filepath.Join(o.CacheDir, "shim", o.Version+"-"+goVer)
	art := Artifact{Path: filepath.Join(final, ShimName), Stamp: o.Version}
	if o.OOMCompat {
		final += "-oomcompat"
		art = Artifact{Path: filepath.Join(final, ShimName), Stamp: o.Version + OOMCompatStamp}
	}
	if fi, err := os.Stat(art.Path); err == nil && fi.Mode().IsRegular() {
		art.Cached = true
		return art, nil
	}
	for _, d := range []string{filepath.Join(o.CacheDir, "locks"), filepath.Dir(final)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Artifact{}, err
		}
	}
	unlock, err := lockFile(ctx, filepath.Join(o.CacheDir, "locks", "shim-"+o.Version+".lock"), b)
	if err != nil {
		return Artifact{}, err
	}
	defer unlock()
	if fi, err := os.Stat(art.Path); err == nil && fi.Mode().IsRegular() {
		art.Cached = true // built by the run we waited for
		return art, nil
	}
	// Unfinished builds of this shim (a killed run's) go first.
	stale, _ := filepath.Glob(final + ".tmp-*")
	for _, s := range stale {
		b.logf("removing unfinished shim build %s", s)
		os.RemoveAll(s)
	}
	mod, err := o.Download(ctx, o.Version)
	if err != nil {
		return Artifact{}, err
	}
	work, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".tmp-")
	if err != nil {
		return Artifact{}, err
	}
	defer os.RemoveAll(work)
	b.tmp = work
	var ld []string
	for _, v := range shimVersionVars {
		ld = append(ld, "-X "+v+"="+art.Stamp)
	}
	b.logf("building %s from %s@%s", ShimName, gvisor.ModulePath, o.Version)
	bin := filepath.Join(work, ShimName)
	args := []string{"build", "-trimpath", "-o", bin, "-ldflags", strings.Join(ld, " ")}
	dir, err := shimTree(mod.Dir, work, o.OOMCompat)
	if err != nil {
		return Artifact{}, err
	}
	if err := b.runGo(ctx, dir, "shim", append(args, "./shim")...); err != nil {
		return Artifact{}, fmt.Errorf("building %s: %w", ShimName, err)
	}
	if err := os.RemoveAll(filepath.Join(work, "src")); err != nil {
		return Artifact{}, err
	}
	if err := os.Rename(work, final); err != nil {
		return Artifact{}, err
	}
	b.logf("built %s in %.0fs", ShimName, time.Since(b.start).Seconds())
	return art, nil
}

// ShimVersion is the shim's own account of itself (-v), on one line.
func ShimVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "-v").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(%s -v failed: %v)", filepath.Base(path), err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
