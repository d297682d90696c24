package harness

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
)

// hostDir is the fresh host directory, holding a FIFO made on the host,
// that one run of a guest with Guest.HostFIFOEnv gets; dir is "" for other
// guests.
type hostDir struct {
	dir    string
	envVar string
}

// newHostDir makes ROOT/hostdirs/GUEST/RUN and the FIFO in it for guest g,
// if g asks for one. The directory must not exist yet: each run starts
// afresh.
func newHostDir(root, guest, run string, g guests.Guest) (hostDir, error) {
	if g.HostFIFOEnv == "" {
		return hostDir{}, nil
	}
	dir, err := filepath.Abs(filepath.Join(root, "hostdirs", guest, run))
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

// nativeFIFO returns g as its native run sees it: a FIFO of its image
// (Guest.ImageFIFOEnv) is, natively, a FIFO in a fresh host directory.
func nativeFIFO(g guests.Guest) guests.Guest {
	if g.ImageFIFOEnv != "" {
		g.HostFIFOEnv = g.ImageFIFOEnv
	}
	return g
}

// remove deletes the directory and its FIFO after the run.
func (h hostDir) remove() error {
	if h.dir == "" {
		return nil
	}
	return os.RemoveAll(h.dir)
}
