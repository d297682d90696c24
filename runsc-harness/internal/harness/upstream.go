package harness

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
)

// UpstreamOptions say what VerifyUpstream runs.
type UpstreamOptions struct {
	// Spec is the gVisor version whose stock and patched runsc run the
	// cases; Series, Sets and Cache select and hold their builds.
	Spec   string
	Series *series.Series
	Sets   []string
	Cache  string
	// Platform is the runsc platform; Timeout the deadline of one case in
	// one place.
	Platform string
	Timeout  time.Duration
	// WorkDir receives the generated sources and test binaries; a
	// temporary directory, removed at the end, when empty.
	WorkDir string
	// RepoRoot is the repository (patches/upstream, syscalltests/gvisortest).
	RepoRoot string
	// Log receives progress.
	Log io.Writer
}

// VerifyUpstream checks the toolchain, builds (or takes from the cache) the
// stock and patched runsc of o.Spec, and runs the gtest cases of
// patches/upstream natively and under both (upstream.Verify).
func VerifyUpstream(ctx context.Context, o UpstreamOptions) (*upstream.Result, error) {
	if err := upstream.CheckToolchain("/usr/include"); err != nil {
		return nil, err
	}
	man, err := upstream.LoadManifest(filepath.Join(o.RepoRoot, "patches", "upstream"))
	if err != nil {
		return nil, err
	}
	v, err := ResolveVersion(ctx, o.Spec, o.Log)
	if err != nil {
		return nil, err
	}
	runscs, err := BuildVersion(ctx, v.Version, o.Series, o.Sets, o.Cache, o.Log)
	if err != nil {
		return nil, err
	}
	dir := o.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "upstream-verify-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	places := []upstream.Place{{Name: "native"}}
	for _, r := range runscs {
		places = append(places, upstream.Place{Name: string(r.Kind), Runsc: r.Path, Platform: o.Platform})
	}
	return upstream.Verify(ctx, upstream.Options{
		Manifest: man, Series: o.Series, Version: v.Version, Layer: filepath.Join(o.RepoRoot, "syscalltests", "gvisortest"),
		Places: places, Timeout: o.Timeout, WorkDir: dir, Log: o.Log,
	})
}
