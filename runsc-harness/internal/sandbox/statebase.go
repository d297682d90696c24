package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StateBasePrefix starts the name of every temporary state base a harness
// run makes in the temporary directory; Sweep looks for it.
const StateBasePrefix = "rh-state-"

// lockName is the lock file of a state base. Its flock is held for as long
// as the run that owns the base is alive (the kernel drops it when the
// process dies, however it dies), and it records which runsc binary each
// runtime state root under the base belongs to, so that whoever finds the
// base stale can ask that runsc to delete its containers.
const lockName = "lock"

// ErrStateInUse is returned by OpenStateBase for a base whose lock is held
// by another live run.
var ErrStateInUse = errors.New("state directory is in use by another harness run")

// owner is the content of a state base's lock file.
type owner struct {
	PID      int               `json:"pid"`
	Started  time.Time         `json:"started"`
	Runtimes map[string]string `json:"runtimes"` // state root name -> runsc binary
}

// StateBase is a directory that holds one private runsc state root per
// runsc binary of a harness run, locked by that run. Close removes what the
// run left; if the run dies first, the next run's Sweep (or OpenStateBase
// of the same directory) does.
type StateBase struct {
	// Dir is the absolute path of the base.
	Dir  string
	temp bool
	lock *os.File
	own  owner
	// netns is the network namespace NetNS made, once asked.
	netns string
}

// NewStateBase makes a fresh temporary state base rh-state-* in parent (the
// temporary directory when empty) and locks it.
func NewStateBase(parent string) (*StateBase, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, StateBasePrefix)
	if err != nil {
		return nil, err
	}
	sb, err := lockBase(dir, io.Discard)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	sb.temp = true
	return sb, nil
}

// OpenStateBase locks the state base dir (made if missing) for this run.
// If a run that died left things in it, they are cleaned up first and
// described on log. A base locked by a live run is refused with
// ErrStateInUse.
func OpenStateBase(dir string, log io.Writer) (*StateBase, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return lockBase(dir, log)
}

// lockBase takes dir's lock. A lock file is only ever created whole and
// already locked (made under a private name, flocked, then hard-linked into
// place), so a lock file that can be flocked belongs to a run that died.
func lockBase(dir string, log io.Writer) (*StateBase, error) {
	lockPath := filepath.Join(dir, lockName)
	for attempt := 0; attempt < 10; attempt++ {
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			f, err := newLockFile(dir)
			if errors.Is(err, os.ErrExist) {
				continue // someone else's appeared; lock that one
			}
			if err != nil {
				return nil, err
			}
			sb := &StateBase{Dir: dir, lock: f, own: owner{PID: os.Getpid(), Started: time.Now().UTC(), Runtimes: map[string]string{}}}
			return sb, sb.writeOwner()
		}
		if err != nil {
			return nil, fmt.Errorf("state lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s: %w", dir, ErrStateInUse)
			}
			return nil, fmt.Errorf("state lock %s: %w", lockPath, err)
		}
		if !sameFile(f, lockPath) {
			f.Close() // swept away under us; start over
			continue
		}
		// The run that made it is gone: clean up after it.
		if err := cleanBase(dir, f, log); err != nil {
			f.Close()
			return nil, err
		}
		sb := &StateBase{Dir: dir, lock: f, own: owner{PID: os.Getpid(), Started: time.Now().UTC(), Runtimes: map[string]string{}}}
		return sb, sb.writeOwner()
	}
	return nil, fmt.Errorf("state lock %s: could not take it", lockPath)
}

func newLockFile(dir string) (*os.File, error) {
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", lockName, os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock: %w", err)
	}
	defer os.Remove(tmp)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("state lock: %w", err)
	}
	if err := os.Link(tmp, filepath.Join(dir, lockName)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

func (s *StateBase) writeOwner() error {
	js, err := json.Marshal(s.own)
	if err != nil {
		return err
	}
	if err := s.lock.Truncate(0); err != nil {
		return err
	}
	_, err = s.lock.WriteAt(append(js, '\n'), 0)
	return err
}

// Runtime makes the state root for runsc binary runsc, called name, and
// records it in the lock file.
func (s *StateBase) Runtime(name, runsc string) (Runtime, error) {
	if name == "" || name == lockName || strings.ContainsAny(name, "/") || strings.HasPrefix(name, ".") {
		return Runtime{}, fmt.Errorf("bad state root name %q", name)
	}
	rt := Runtime{Runsc: runsc, StateRoot: filepath.Join(s.Dir, name)}
	if err := os.MkdirAll(rt.StateRoot, 0o700); err != nil {
		return Runtime{}, err
	}
	s.own.Runtimes[name] = runsc
	return rt, s.writeOwner()
}

// NetNS returns a network namespace for the containers of this base, made
// on first use: a new namespace whose only interface, the loopback, is up,
// which is what a container runtime (Docker, CNI) gives a container and
// what runsc --network=sandbox copies into its netstack. Its handle is
// bind-mounted on a file in the base, so Close (or the Sweep of a run that
// died) unmounts it with the base's other mounts, and the namespace goes
// when its last user does.
func (s *StateBase) NetNS() (string, error) {
	if s.netns != "" {
		return s.netns, nil
	}
	p := filepath.Join(s.Dir, "netns")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return "", fmt.Errorf("network namespace: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread moves to the new namespace and is never unlocked, so
		// it ends with this goroutine instead of serving others.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, p, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mounting %s on %s: %w", self, p, err)
			return
		}
		errc <- loopbackUp()
	}()
	if err := <-errc; err != nil {
		_ = unix.Unmount(p, unix.MNT_DETACH)
		os.Remove(p)
		return "", fmt.Errorf("network namespace: %w", err)
	}
	s.netns = p
	return p, nil
}

// loopbackUp sets IFF_UP on "lo" in the calling thread's network
// namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	return nil
}

// Close cleans up every state root of the base (containers, processes,
// mounts), removes the base if it was temporary, and drops the lock. An
// error says what could not be removed.
func (s *StateBase) Close() error {
	err := cleanRoots(s.Dir, s.own, false, io.Discard)
	if s.netns != "" {
		os.Remove(s.netns) // unmounted by cleanRoots
	}
	if s.temp {
		if rerr := os.RemoveAll(s.Dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	if cerr := s.lock.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Sweep removes the temporary state bases in parent (the temporary
// directory when empty) whose run has died: it kills every process whose
// --root lies in the base, asks the recorded runsc to force-delete its
// containers, unmounts anything mounted below the base and removes it.
// Bases of live runs (their lock is held) and directories without a lock
// file (not made by NewStateBase) are left alone. It returns the bases it
// removed and describes them on log.
func Sweep(parent string, log io.Writer) ([]string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	matches, err := filepath.Glob(filepath.Join(parent, StateBasePrefix+"*"))
	if err != nil {
		return nil, err
	}
	var swept []string
	var errs []error
	for _, dir := range matches {
		dir, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		lockPath := filepath.Join(dir, lockName)
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			continue // not ours, or gone
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil || !sameFile(f, lockPath) {
			f.Close() // a live run's
			continue
		}
		if err := cleanBase(dir, f, log); err != nil {
			errs = append(errs, err)
		} else if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		} else {
			swept = append(swept, dir)
		}
		f.Close()
	}
	return swept, errors.Join(errs...)
}

// cleanBase cleans up after the dead run whose lock file (now held by the
// caller) is lock, and empties the base except for the lock.
func cleanBase(dir string, lock *os.File, log io.Writer) error {
	var own owner
	b, _ := io.ReadAll(io.NewSectionReader(lock, 0, 1<<20))
	_ = json.Unmarshal(b, &own) // an unreadable record still gets its processes killed
	if err := cleanRoots(dir, own, true, log); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() != lockName {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanRoots kills the processes of every state root under dir, deletes
// the containers of the recorded runtimes and unmounts what is mounted
// under dir. stale says the run that owned dir died (and is reported on
// log).
func cleanRoots(dir string, own owner, stale bool, log io.Writer) error {
	var errs []error
	procs, err := procsUnder(dir)
	if err != nil {
		return err
	}
	if stale {
		fmt.Fprintf(log, "cleaning up state %s left by harness pid %d: %d process(es)\n", dir, own.PID, len(procs))
	}
	for _, p := range procs {
		fmt.Fprintf(log, "  killing %d: %s\n", p.PID, p.Cmdline)
	}
	if err := killUntilGone(dir, procs); err != nil {
		errs = append(errs, err)
	}
	names := make([]string, 0, len(own.Runtimes))
	for n := range own.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rt := Runtime{Runsc: own.Runtimes[n], StateRoot: filepath.Join(dir, n)}
		if _, err := os.Stat(rt.StateRoot); err != nil {
			continue
		}
		if _, err := os.Stat(rt.Runsc); err != nil {
			// The binary is gone: its processes were killed above, and
			// its state files go with the directory.
			fmt.Fprintf(log, "  %s: cannot ask runsc to delete containers: %v\n", rt.StateRoot, err)
			continue
		}
		if ids, err := rt.List(context.Background()); err == nil && len(ids) > 0 {
			fmt.Fprintf(log, "  runsc delete -force %v (root %s)\n", ids, rt.StateRoot)
		}
		if err := rt.CleanupAll(); err != nil {
			errs = append(errs, err)
		}
	}
	mounts, err := MountsUnder(dir)
	if err != nil {
		errs = append(errs, err)
	}
	// Deepest first.
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		fmt.Fprintf(log, "  unmounting %s\n", m)
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// procsUnder returns the live processes whose --root is dir or below it.
func procsUnder(dir string) ([]Proc, error) {
	return findProcs(func(args []string) bool { return rootUnder(args, dir) })
}

func killUntilGone(dir string, procs []Proc) error {
	deadline := time.Now().Add(cleanupTimeout)
	for len(procs) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d processes of %s still alive: %v", ErrLeftover, len(procs), dir, procs)
		}
		for _, p := range procs {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
		var err error
		if procs, err = procsUnder(dir); err != nil {
			return err
		}
	}
	return nil
}

func rootUnder(args []string, dir string) bool {
	under := func(r string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }
	for i, a := range args {
		for _, p := range []string{"--root=", "-root="} {
			if r, ok := strings.CutPrefix(a, p); ok && under(r) {
				return true
			}
		}
		if (a == "--root" || a == "-root") && i+1 < len(args) && under(args[i+1]) {
			return true
		}
	}
	return false
}

// MountsUnder lists the mount points of this mount namespace at or below
// dir, from /proc/self/mountinfo.
func MountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
