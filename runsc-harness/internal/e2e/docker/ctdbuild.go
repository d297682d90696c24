package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"golang.org/x/mod/modfile"
	"golang.org/x/sys/unix"
)

// ContainerdModule is the Go module of containerd 2.x.
const ContainerdModule = "github.com/containerd/containerd/v2"

// ContainerdBuild is a containerd and its ctr.
type ContainerdBuild struct {
	// Containerd and Ctr are the binaries; Dir holds both.
	Containerd, Ctr, Dir string
	// Version is the module version ("" for Debian's).
	Version string
}

// DebianContainerd is Debian's containerd (1.6.20 on Debian 12).
var DebianContainerd = ContainerdBuild{Containerd: ContainerdBin, Ctr: Ctr, Dir: filepath.Dir(ContainerdBin)}

// ShimContainerdVersion returns the containerd 2.x module version the
// shim of the gVisor module in modDir links ("" if it links containerd
// 1.x). Shims built with containerd 2's shim library answer containerd's
// start with bootstrap JSON ({"version":2,"address":...}), which
// containerd 1.6 cannot parse (it dials the JSON as a socket path:
// "connect: invalid argument"); they need a containerd at least that new.
func ShimContainerdVersion(modDir string) (string, error) {
	path := filepath.Join(modDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return "", err
	}
	for _, r := range f.Require {
		if r.Mod.Path == ContainerdModule {
			return r.Mod.Version, nil
		}
	}
	return "", nil
}

// BuildContainerd builds containerd and ctr of module version version
// (static, no cgo; btrfs, devmapper and zfs left out) from a copy of the
// module without vendor/, into cacheDir/containerd/VERSION-GOVERSION/, or
// returns the cached ones, one build of a version at a time (a lock file
// in cacheDir/locks). Progress goes to log.
func BuildContainerd(ctx context.Context, version, cacheDir string, log io.Writer) (*ContainerdBuild, error) {
	gover, err := goEnv(ctx, "GOVERSION")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cacheDir, "containerd", version+"-"+gover)
	b := &ContainerdBuild{Containerd: filepath.Join(dir, "containerd"), Ctr: filepath.Join(dir, "ctr"), Dir: dir, Version: version}
	if _, err := os.Stat(b.Ctr); err == nil {
		return b, nil
	}
	// One build of a version at a time: a second run waits here, then
	// finds the first one's.
	if err := os.MkdirAll(filepath.Join(cacheDir, "locks"), 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "locks", "containerd-"+version+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	for {
		err := unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return nil, fmt.Errorf("containerd build lock: %w", err)
		}
	}
	if _, err := os.Stat(b.Ctr); err == nil {
		return b, nil
	}
	start := time.Now()
	fmt.Fprintf(log, "containerd %s: downloading %s@%s\n", version, ContainerdModule, version)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), version+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := e2e.ModuleSource(ctx, ContainerdModule, version, src); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "containerd %s: building containerd and ctr\n", version)
	out := filepath.Join(work, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "no_btrfs no_devmapper no_zfs",
		"-ldflags", "-X "+ContainerdModule+"/version.Version="+version, "-o", out+"/", "./cmd/containerd", "./cmd/ctr")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building containerd %s: %w\n%s", version, err, tail(string(msg), 3000))
	}
	os.RemoveAll(dir) // a stale, partial entry
	if err := os.Rename(out, dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "containerd %s: built in %v: %s\n", version, time.Since(start).Round(time.Second), dir)
	return b, nil
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return string(bytes.TrimSpace(out)), nil
}
