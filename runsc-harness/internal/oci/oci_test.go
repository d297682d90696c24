package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func wantSpec(args []string, env []string, hostname string, netns bool) *specs.Spec {
	caps := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	ns := []specs.LinuxNamespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}}
	if netns {
		ns = append(ns, specs.LinuxNamespace{Type: "network"})
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			User:            specs.User{},
			Args:            args,
			Env:             env,
			Cwd:             "/",
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 4096, Soft: 4096}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
		},
		Linux: &specs.Linux{Namespaces: ns},
	}
}

func TestSpec(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want *specs.Spec
	}{
		{
			name: "defaults",
			in:   Options{Binary: "/x/storm"},
			want: wantSpec([]string{"/guest"}, []string{"PATH=/"}, "guest", true),
		},
		{
			name: "args env hostname",
			in:   Options{Binary: "/x/storm", Args: []string{"-rounds", "3"}, Env: []string{"A=b"}, Hostname: "h"},
			want: wantSpec([]string{"/guest", "-rounds", "3"}, []string{"PATH=/", "A=b"}, "h", true),
		},
		{
			name: "host network has no netns",
			in:   Options{Binary: "/x/storm", HostNetwork: true},
			want: wantSpec([]string{"/guest"}, []string{"PATH=/"}, "guest", false),
		},
		{
			name: "bind mount after the defaults",
			in:   Options{Binary: "/x/matrix", Binds: []Bind{{Source: "/host/d", Destination: "/hostdir"}}},
			want: func() *specs.Spec {
				s := wantSpec([]string{"/guest"}, []string{"PATH=/"}, "guest", true)
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostdir", Type: "bind", Source: "/host/d", Options: []string{"rbind", "rw"}})
				return s
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Spec(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Spec mismatch (-want +got):\n%s", diff)
			}
			if got.Process.Terminal {
				t.Error("terminal must be off")
			}
		})
	}
}

func TestSpecDoesNotAliasCaps(t *testing.T) {
	s := Spec(Options{Binary: "/x"})
	s.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	if s.Process.Capabilities.Effective[0] == "CAP_SYS_ADMIN" {
		t.Fatal("capability sets share storage")
	}
	if Spec(Options{Binary: "/x"}).Process.Capabilities.Bounding[0] == "CAP_SYS_ADMIN" {
		t.Fatal("Spec hands out the package's default slice")
	}
}

func TestWrite(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if err := os.WriteFile(bin, []byte("\x7fELF fake"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "bundle")
	b, err := Write(dir, Options{Binary: bin, Args: []string{"-x"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk specs.Spec
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b.Spec, &onDisk); diff != "" {
		t.Errorf("config.json differs from returned spec (-ret +disk):\n%s", diff)
	}
	var entries []string
	rootfs := filepath.Join(dir, "rootfs")
	err = filepath.Walk(rootfs, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(rootfs, p)
		entries = append(entries, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".", "dev", "guest", "proc", "tmp"}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("rootfs contents (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(rootfs, "guest"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("guest not executable: %v", fi.Mode())
	}
}

func TestWriteNoBinary(t *testing.T) {
	if _, err := Write(t.TempDir(), Options{}); err == nil {
		t.Fatal("Write without a binary succeeded")
	}
	if _, err := Write(t.TempDir(), Options{Binary: "/nonexistent/guest"}); err == nil {
		t.Fatal("Write with a missing binary succeeded")
	}
}

func TestHostRootSpec(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	b, err := Write(dir, Options{HostRoot: true, Command: []string{"/bin/t", "-x"}, Cwd: "/r", Env: []string{"A=1"},
		Binds: []Bind{{Source: "/o", Destination: "/o"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Spec
	if s.Root.Path != "/" || !s.Root.Readonly {
		t.Errorf("root = %+v, want the host's /, read-only", s.Root)
	}
	if strings.Join(s.Process.Args, " ") != "/bin/t -x" || s.Process.Cwd != "/r" || strings.Join(s.Process.Env, " ") != "A=1" {
		t.Errorf("process = %+v", s.Process)
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs")); err == nil {
		t.Error("a host-root bundle got a rootfs directory")
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Source != "/o" || last.Type != "bind" {
		t.Errorf("last mount = %+v, want the writable bind", last)
	}
	if _, err := Write(filepath.Join(t.TempDir(), "c"), Options{HostRoot: true}); err == nil {
		t.Error("a host-root bundle without a command was written")
	}
}
