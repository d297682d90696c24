package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Runtime is one runsc binary used with one private state root.
type Runtime struct {
	// Runsc is the runsc binary.
	Runsc string
	// StateRoot is the --root directory; nothing else may use it.
	StateRoot string
}

// command runs a runsc management command (kill, delete, list) and returns
// its combined output.
func (r Runtime) command(ctx context.Context, args ...string) error {
	_, err := r.output(ctx, args...)
	return err
}

func (r Runtime) output(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--root", r.StateRoot}, args...)
	cmd := exec.CommandContext(ctx, r.Runsc, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("runsc %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// List returns the IDs of the containers in the state root.
func (r Runtime) List(ctx context.Context) ([]string, error) {
	out, err := r.output(ctx, "list", "-quiet")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// Proc is a process found by Leftovers.
type Proc struct {
	PID     int
	Cmdline string
}

// Leftovers returns the live processes whose command line names the state
// root (runsc passes --root to its sandbox and gofer processes, so this
// finds every process a run of this root started).
func (r Runtime) Leftovers() ([]Proc, error) {
	return Leftovers(r.StateRoot)
}

// Leftovers returns the live (non-zombie) processes whose command line has
// "--root=ROOT" or "--root ROOT".
func Leftovers(root string) ([]Proc, error) {
	return findProcs(func(args []string) bool { return namesRoot(args, root) })
}

// findProcs returns the live (non-zombie) processes other than this one
// whose argument list match accepts.
func findProcs(match func(args []string) bool) ([]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a kernel thread or zombie
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if !match(args) {
			continue
		}
		if stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); bytes.Contains(stat, []byte(") Z ")) {
			continue
		}
		procs = append(procs, Proc{PID: pid, Cmdline: strings.Join(args, " ")})
	}
	return procs, nil
}

func namesRoot(args []string, root string) bool {
	for i, a := range args {
		if a == "--root="+root || a == "-root="+root {
			return true
		}
		if (a == "--root" || a == "-root") && i+1 < len(args) && args[i+1] == root {
			return true
		}
	}
	return false
}

// ErrLeftover is wrapped by Cleanup's error when something could not be
// removed.
var ErrLeftover = errors.New("runsc left behind")

// Cleanup force-deletes container id if the state root still lists it and
// kills any process still naming the state root. It uses a context of its
// own so it works after the caller's was cancelled.
func (r Runtime) Cleanup(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	ids, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range ids {
		if c == id {
			if err := r.command(ctx, "delete", "-force", id); err != nil {
				return err
			}
		}
	}
	return r.killLeftovers(ctx)
}

// CleanupAll force-deletes every container in the state root and kills
// every process naming it.
func (r Runtime) CleanupAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	ids, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		_ = r.command(ctx, "delete", "-force", id)
	}
	return r.killLeftovers(ctx)
}

func (r Runtime) killLeftovers(ctx context.Context) error {
	for {
		procs, err := r.Leftovers()
		if err != nil {
			return err
		}
		if len(procs) == 0 {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %d processes of %s still alive: %v", ErrLeftover, len(procs), r.StateRoot, procs)
		}
		for _, p := range procs {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ids, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		// The processes are gone; drop the stale state too.
		_ = r.command(ctx, "delete", "-force", id)
	}
	if ids, err = r.List(ctx); err != nil {
		return err
	}
	if len(ids) > 0 {
		return fmt.Errorf("%w: containers %v still in %s", ErrLeftover, ids, r.StateRoot)
	}
	return nil
}
