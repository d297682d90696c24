package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
)

// DriverPackage is the import path (relative to the repository root) of
// the driver program.
const DriverPackage = "./runsc-harness/internal/e2e/driver"

// BuildDriver builds the static driver program into out.
func BuildDriver(ctx context.Context, repoRoot, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, DriverPackage)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the e2e driver: %w\n%s", err, msg)
	}
	return nil
}

// allCaps is what the outer container gets: runc needs CAP_SYS_ADMIN and
// friends to make namespaces, mounts and cgroups inside the sandbox.
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
}

// OuterSpec is the spec of the sandbox's container: the driver as init with
// args, every capability, sysfs (the driver mounts cgroups below it) and no
// network namespace games beyond the default.
func OuterSpec(args []string) *specs.Spec {
	s := oci.Spec(oci.Options{Hostname: "e2e"})
	s.Process.Args = append([]string{"/driver"}, args...)
	s.Process.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	s.Process.NoNewPrivileges = false
	caps := func() []string { return append([]string(nil), allCaps...) }
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: caps(), Effective: caps(), Permitted: caps(),
	}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 65536, Soft: 65536}}
	s.Mounts = append(s.Mounts, specs.Mount{
		Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev"},
	})
	return s
}

// WriteBundles lays out the outer bundle in dir (which must not exist or
// be empty): rootfs/driver, rootfs/runc, and two inner bundles,
// rootfs/bundles/run (the container process exits at once) and
// rootfs/bundles/sleep (it sleeps, for runc exec), whose rootfs holds the
// driver as /guest. driverArgs are the driver's flags.
func WriteBundles(dir, driver, runc string, driverArgs []string) error {
	spec := OuterSpec(driverArgs)
	rootfs := filepath.Join(dir, spec.Root.Path)
	for _, d := range []string{"proc", "dev", "tmp", "sys", "run", "bundles"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := fscopy.File(driver, filepath.Join(rootfs, "driver"), 0o755); err != nil {
		return err
	}
	if err := fscopy.File(runc, filepath.Join(rootfs, "runc"), 0o755); err != nil {
		return err
	}
	for name, arg := range map[string]string{"run": "true", "sleep": "sleep"} {
		if _, err := oci.Write(filepath.Join(rootfs, "bundles", name), oci.Options{
			Binary: driver, Args: []string{arg}, Hostname: name,
		}); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}
