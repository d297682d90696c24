// Package oci writes OCI runtime bundles that hold one static guest program:
// a rootfs with only the binary (and the empty mount points it needs) and a
// config.json built from the runtime-spec Go types.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
)

// GuestPath is where the guest binary lives inside the rootfs.
const GuestPath = "/guest"

// Options describe the one process a bundle runs.
type Options struct {
	// Binary is the host path of the static guest binary. It is copied into
	// the rootfs at GuestPath.
	Binary string
	// Args are the guest's arguments after argv[0].
	Args []string
	// Env is the guest's environment ("K=V"); PATH=/ is always set first.
	Env []string
	// Hostname is the container's hostname; "guest" when empty.
	Hostname string
	// HostNetwork leaves the network namespace out of the spec, for
	// runsc --network=host.
	HostNetwork bool
	// NetNS, when set, is the network namespace (a path, as
	// StateBase.NetNS makes) the container joins, as a container runtime
	// gives one with its loopback up; runsc --network=sandbox builds its
	// netstack from that namespace's interfaces. Without it the container
	// gets a new, empty namespace, whose loopback is down.
	NetNS string
	// ExtraCaps are capabilities granted on top of the default set
	// ("CAP_SYS_ADMIN", say).
	ExtraCaps []string
	// Binds are host directories bind-mounted read-write into the
	// container, after the default mounts.
	Binds []Bind
	// FIFOs are paths inside the rootfs where Write makes a FIFO (mode
	// 0666, with its parent directories), as an image layer can ship one.
	// A FIFO already there is made afresh.
	FIFOs []string
	// HostRoot runs Command instead of a copied guest: the container's
	// root is the host's root directory, read-only, so that a test binary
	// finds its runfiles and shared libraries where Bazel put them (as
	// gVisor's own test runner runs tests). Env is then the whole
	// environment and Cwd the working directory; Binds are the only
	// writable places besides the container's /tmp.
	HostRoot bool
	Command  []string
	Cwd      string
}

// Bind is one host directory bind-mounted into the container.
type Bind struct {
	// Source is the host directory.
	Source string
	// Destination is where it appears inside the container.
	Destination string
}

// defaultCaps is the capability set a container engine gives root by
// default; it is enough for the guests and keeps runsc from refusing
// capabilities it does not model.
var defaultCaps = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// Spec returns the runtime spec for o. It does not touch the file system.
func Spec(o Options) *specs.Spec {
	hostname := o.Hostname
	if hostname == "" {
		hostname = "guest"
	}
	caps := func() []string { return append(append([]string(nil), defaultCaps...), o.ExtraCaps...) }
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
	}
	if !o.HostNetwork {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetNS})
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
	}
	for _, b := range o.Binds {
		mounts = append(mounts, specs.Mount{Destination: b.Destination, Type: "bind", Source: b.Source, Options: []string{"rbind", "rw"}})
	}
	args, env, cwd, root := append([]string{GuestPath}, o.Args...), append([]string{"PATH=/"}, o.Env...), "/", &specs.Root{Path: "rootfs"}
	if o.HostRoot {
		args, env, cwd, root = o.Command, o.Env, o.Cwd, &specs.Root{Path: "/", Readonly: true}
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     args,
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 4096, Soft: 4096},
			},
			NoNewPrivileges: true,
		},
		Root:     root,
		Hostname: hostname,
		Mounts:   mounts,
		Linux: &specs.Linux{
			Namespaces: ns,
		},
	}
}

// Bundle is a bundle on disk.
type Bundle struct {
	// Dir is the bundle directory (holding config.json and rootfs/).
	Dir string
	// Spec is what config.json holds.
	Spec *specs.Spec
}

// Write creates the bundle for o in dir, which must not exist yet or be
// empty. The rootfs holds the guest binary and the mount points of the
// spec's mounts, nothing else.
func Write(dir string, o Options) (*Bundle, error) {
	spec := Spec(o)
	if o.HostRoot {
		if len(o.Command) == 0 || o.Cwd == "" {
			return nil, errors.New("oci: a host-root bundle needs a command and a working directory")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return writeConfig(dir, spec)
	}
	if o.Binary == "" {
		return nil, errors.New("oci: no guest binary")
	}
	rootfs := filepath.Join(dir, spec.Root.Path)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	for _, m := range spec.Mounts {
		if err := os.MkdirAll(filepath.Join(rootfs, m.Destination), 0o755); err != nil {
			return nil, err
		}
	}
	if err := fscopy.File(o.Binary, filepath.Join(rootfs, GuestPath), 0o755); err != nil {
		return nil, fmt.Errorf("oci: copying guest: %w", err)
	}
	for _, f := range o.FIFOs {
		p := filepath.Join(rootfs, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := unix.Mkfifo(p, 0o666); err != nil {
			return nil, fmt.Errorf("oci: FIFO %s: %w", f, err)
		}
		// mkfifo(3) applies the umask.
		if err := os.Chmod(p, 0o666|os.ModeNamedPipe); err != nil {
			return nil, err
		}
	}
	return writeConfig(dir, spec)
}

// writeConfig writes spec as dir/config.json.
func writeConfig(dir string, spec *specs.Spec) (*Bundle, error) {
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return &Bundle{Dir: dir, Spec: spec}, nil
}
