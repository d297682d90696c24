package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RuncModule is the Go module runc is built from.
const RuncModule = "github.com/opencontainers/runc"

// DefaultRuncVersion is the runc release whose message matches the field:
// v1.2.0–v1.2.5 call the length probe once and fail on EINTR.
const DefaultRuncVersion = "v1.2.5"

// RuncBuild is a built runc.
type RuncBuild struct {
	// Path is the static runc binary.
	Path string
	// Version is the module version it was built from.
	Version string
	// Tags are the build tags (no "seccomp": the bundles use no seccomp
	// filter, and a static libseccomp is not a prerequisite here).
	Tags string
	// Cached is set when the binary came from the cache.
	Cached bool
}

// RuncTags are the build tags runc is built with: static, pure-Go user and
// network lookups, and no seccomp (runc then needs no libseccomp; the
// bundles carry no seccomp profile).
const RuncTags = "netgo osusergo"

// BuildRunc builds a static runc of the given module version (fetched from
// the Go module proxy through `go mod download`) into
// cacheDir/runc/VERSION-GOVERSION/runc, or returns the cached one. It builds
// with cgo (runc's nsenter is C) from a copy of the module whose vendor/
// directory is removed, resolving dependencies with -mod=mod. Progress goes
// to log.
func BuildRunc(ctx context.Context, version, cacheDir string, log io.Writer) (*RuncBuild, error) {
	if version == "" {
		version = DefaultRuncVersion
	}
	if !strings.HasPrefix(version, "v") || strings.ContainsAny(version, "/ ") {
		return nil, fmt.Errorf("runc version %q: want a module version like %s", version, DefaultRuncVersion)
	}
	gover, err := goOutput(ctx, "", "env", "GOVERSION")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cacheDir, "runc", version+"-"+gover)
	out := filepath.Join(dir, "runc")
	res := &RuncBuild{Path: out, Version: version, Tags: RuncTags}
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		res.Cached = true
		return res, nil
	}
	start := time.Now()
	fmt.Fprintf(log, "runc %s: downloading %s@%s\n", version, RuncModule, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := ModuleSource(ctx, RuncModule, version, src); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "runc %s: building (cgo, static, tags %q)\n", version, RuncTags)
	tmpOut := filepath.Join(work, "runc")
	ldflags := "-X main.version=" + strings.TrimPrefix(version, "v") + " -extldflags -static"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-mod=mod", "-buildvcs=false",
		"-tags", RuncTags, "-ldflags", ldflags, "-o", tmpOut, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building runc %s: %w\n%s", version, err, tailString(string(msg), 3000))
	}
	if err := os.Rename(tmpOut, out); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "runc %s: built in %v: %s\n", version, time.Since(start).Round(time.Second), out)
	return res, nil
}

func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
