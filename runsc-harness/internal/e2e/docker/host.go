package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Runtime is one entry of daemon.json's "runtimes" map, the format
// docs/fleet.md gives: the name is what `docker run --runtime` takes.
type Runtime struct {
	Path        string   `json:"path"`
	RuntimeArgs []string `json:"runtimeArgs,omitempty"`
}

// DaemonJSON is the daemon.json the harness gives its host dockerd: the
// runtimes map of docs/fleet.md, one entry per runsc.
type DaemonJSON struct {
	Runtimes map[string]Runtime `json:"runtimes"`
}

// DockerFlags are the dockerd flags for this machine's kind of host, as
// measured for issue 17: vfs storage (no overlay on overlay), and no
// iptables and no bridge (nothing here needs a network).
var DockerFlags = []string{"--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"}

// HostDocker is a host dockerd of the harness's own, in dir.
type HostDocker struct {
	*Daemon
	// Dir holds daemon.json, data-root, exec-root, the pidfile and the
	// socket; ConfigFile is daemon.json and PIDFile the pidfile.
	Dir, ConfigFile, PIDFile string
	// CgroupParent is the cgroup its containers go under.
	CgroupParent string
}

// StartDocker starts a dockerd whose every file is under dir (made if
// missing): --config-file dir/daemon.json (cfg), --data-root dir/data,
// --exec-root dir/exec, --pidfile dir/docker.pid, the socket
// dir/docker.sock and the log dir/dockerd.log; its containers' cgroups go
// under CgroupPrefix + base name of dir.
func StartDocker(ctx context.Context, dir string, cfg DaemonJSON) (*HostDocker, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h := &HostDocker{
		Dir: dir, ConfigFile: filepath.Join(dir, "daemon.json"), PIDFile: filepath.Join(dir, "docker.pid"),
		CgroupParent: CgroupPrefix + filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir),
	}
	if err := WriteDaemonJSON(h.ConfigFile, cfg); err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "docker.sock")
	argv := append([]string{Dockerd, "--config-file", h.ConfigFile,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", h.PIDFile, "--host", "unix://" + socket, "--cgroup-parent", "/" + h.CgroupParent}, DockerFlags...)
	d, err := StartDaemon(ctx, socket, filepath.Join(dir, "dockerd.log"), nil, argv, func(ctx context.Context) error {
		if _, err := os.Stat(socket); err != nil {
			return errNotReady
		}
		_, err := run(ctx, 10*time.Second, DockerCLI, "--host", "unix://"+socket, "version")
		return err
	})
	if err != nil {
		return nil, err
	}
	h.Daemon = d
	return h, nil
}

// WriteDaemonJSON writes cfg as daemon.json to path.
func WriteDaemonJSON(path string, cfg DaemonJSON) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Docker runs the docker CLI against h with a deadline and returns its
// combined output.
func (h *HostDocker) Docker(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	return run(ctx, timeout, DockerCLI, append([]string{"--host", "unix://" + h.Socket}, args...)...)
}

// Close removes every container of h, stops the daemon and removes the
// cgroups its containers had.
func (h *HostDocker) Close(ctx context.Context) {
	if ids, err := h.Docker(ctx, time.Minute, "ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		_, _ = h.Docker(ctx, 2*time.Minute, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	h.Stop()
	SweepCgroups()
}

// CgroupPrefix starts the name of the cgroup parent of every host dockerd
// of the harness.
const CgroupPrefix = "restartsys-"

// SweepCgroups removes the empty cgroup trees named CgroupPrefix* in every
// cgroup v1 hierarchy (and cgroup2) under /sys/fs/cgroup. A tree that
// still holds a process is left alone (rmdir fails on it); a live run
// whose parent goes while it has no container gets it back from dockerd
// on its next one.
func SweepCgroups() {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + CgroupPrefix + "*")
	more, _ := filepath.Glob("/sys/fs/cgroup/" + CgroupPrefix + "*")
	for _, root := range append(roots, more...) {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // deepest first
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	}
}

// Version returns dockerd's version ("20.10.24+dfsg1").
func Version(ctx context.Context) string {
	out, err := run(ctx, 10*time.Second, Dockerd, "--version")
	if err != nil {
		return ""
	}
	// "Docker version 20.10.24+dfsg1, build 5d6db84"
	f := strings.Fields(strings.TrimSpace(out))
	if len(f) >= 3 {
		return strings.TrimSuffix(f[2], ",")
	}
	return strings.TrimSpace(out)
}

var _ = fmt.Sprintf
