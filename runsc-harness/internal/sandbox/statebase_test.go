package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
