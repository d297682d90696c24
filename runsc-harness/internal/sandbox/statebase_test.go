package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestStateBaseSweep(t *testing.T) {
	parent := t.TempDir()
	live, err := NewStateBase(parent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := live.Runtime("stock", "/nonexistent/runsc"); err != nil {
		t.Fatal(err)
	}
	// A base whose run died: its lock file is there, nobody holds it.
	dead, err := NewStateBase(parent)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dead.Dir, "patched"), 0o700)
	dead.lock.Close() // as if its process had died
	// A directory of the same name pattern that no StateBase made.
	foreign := filepath.Join(parent, StateBasePrefix+"foreign")
	os.MkdirAll(filepath.Join(foreign, "stock"), 0o700)

	swept, err := Sweep(parent, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 1 || swept[0] != dead.Dir {
		t.Errorf("Sweep removed %v, want only %s", swept, dead.Dir)
	}
	for _, d := range []string{live.Dir, foreign} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("Sweep touched %s: %v", d, err)
		}
	}
	// A live base cannot be taken over.
	if _, err := OpenStateBase(live.Dir, io.Discard); !errors.Is(err, ErrStateInUse) {
		t.Errorf("OpenStateBase of a live base = %v, want ErrStateInUse", err)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live.Dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", live.Dir, err)
	}
}

func TestOpenStateBaseReusesDeadOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	a, err := OpenStateBase(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Runtime("stock", "/nonexistent/runsc"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "stock", "stale.state"), nil, 0o600)
	a.lock.Close() // dies without Close
	var log strings.Builder
	b, err := OpenStateBase(dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := os.Stat(filepath.Join(dir, "stock")); !os.IsNotExist(err) {
		t.Errorf("the dead run's state root was not emptied: %v", err)
	}
	if !strings.Contains(log.String(), "cleaning up state "+dir) {
		t.Errorf("log = %q", log.String())
	}
	if _, err := b.Runtime("../x", "r"); err == nil {
		t.Error("Runtime accepted a name with a slash")
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/t\011ab\134`: "/t\tab\\"} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNetNS: the namespace a base makes for --network=sandbox has its
// loopback up, is the same on a second call, and is unmounted and removed
// by Close, or by the Sweep of a run that died.
func TestNetNS(t *testing.T) {
	if err := CheckRoot(); err != nil {
		t.Fatal("a network namespace needs root: run the tests as root")
	}
	parent := t.TempDir()
	for _, dies := range []bool{false, true} {
		sb, err := NewStateBase(parent)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sb.NetNS()
		if err != nil {
			t.Fatalf("NetNS: %v", err)
		}
		if again, err := sb.NetNS(); err != nil || again != p {
			t.Errorf("second NetNS = %q, %v; want %q", again, err, p)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil || st.Type != unix.NSFS_MAGIC {
			t.Fatalf("%s is not a namespace handle (statfs type %#x, %v)", p, st.Type, err)
		}
		flags, err := loopbackFlags(p)
		if err != nil || flags&unix.IFF_UP == 0 {
			t.Errorf("loopback in %s: flags %#x, %v; want IFF_UP", p, flags, err)
		}
		if dies {
			sb.lock.Close() // as if its process had died
			if _, err := Sweep(parent, io.Discard); err != nil {
				t.Fatal(err)
			}
		} else if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
		if m, _ := MountsUnder(sb.Dir); len(m) != 0 {
			t.Errorf("dies=%v: mounts left under %s: %v", dies, sb.Dir, m)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dies=%v: %s left behind (%v)", dies, p, err)
		}
	}
}

// loopbackFlags reads the interface flags of "lo" inside the network
// namespace at path, from a thread that enters it and then ends.
func loopbackFlags(path string) (uint16, error) {
	type result struct {
		flags uint16
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread leaves with the goroutine
		f, err := os.Open(path)
		if err != nil {
			ch <- result{0, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{0, err}
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			ch <- result{0, err}
			return
		}
		defer unix.Close(fd)
		ifr, _ := unix.NewIfreq("lo")
		err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
		ch <- result{ifr.Uint16(), err}
	}()
	r := <-ch
	return r.flags, r.err
}
