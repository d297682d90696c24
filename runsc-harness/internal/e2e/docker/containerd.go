package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
)

// RunscRuntime is the containerd runtime type of gVisor's shim; containerd
// runs it as containerd-shim-runsc-v1 from its PATH.
const RunscRuntime = "io.containerd.runsc.v1"

// SandboxAnnotation marks a ctr container as a pod sandbox, as CRI marks
// the first container of a pod. gVisor's shim hands the container's I/O to
// `runsc create` only for a sandbox; without the annotation it runs
// `runsc create` with its output captured, the sandbox inherits that pipe,
// and the shim waits forever for its end (measured with the shim of
// 2026-05-18: every ctr run hung).
const SandboxAnnotation = "io.kubernetes.cri.container-type=sandbox"

// ctrNamespace is the containerd namespace the harness's containers live in.
const ctrNamespace = "restartsys"

// ContainerdConfig is a containerd config.toml (version 2) whose root,
// state and sockets are under dir, with the CRI runtime "runsc" of
// docs/fleet.md pointing at runscTOML.
func ContainerdConfig(dir, runscTOML string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q

[grpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
  runtime_type = %q
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
  TypeUrl = "io.containerd.runsc.v1.options"
  ConfigPath = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), filepath.Join(dir, "containerd.sock"), RunscRuntime, runscTOML)
}

// RunscTOML is the shim's configuration naming runsc (binary_name, the
// shim's BinaryName option) and its platform, for the CRI runtime.
func RunscTOML(runsc, platform string) string {
	return fmt.Sprintf("binary_name = %q\n\n[runsc_config]\n  platform = %q\n", runsc, platform)
}

// HostContainerd is a host containerd of the harness's own, in Dir.
type HostContainerd struct {
	*Daemon
	// Dir holds config.toml, root, state, the socket and the log.
	Dir, Config string
	// Bin is the containerd and ctr that run.
	Bin ContainerdBuild
}

// StartContainerd starts a containerd whose every file is under dir, with
// config (ContainerdConfig's) in dir/config.toml and pathDirs (where
// containerd-shim-runsc-v1 is) first in its PATH.
func StartContainerd(ctx context.Context, bin ContainerdBuild, dir, config string, pathDirs ...string) (*HostContainerd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h := &HostContainerd{Dir: dir, Config: filepath.Join(dir, "config.toml"), Bin: bin}
	if err := os.WriteFile(h.Config, []byte(config), 0o644); err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "containerd.sock")
	env := []string{"PATH=" + strings.Join(append(pathDirs, os.Getenv("PATH")), ":")}
	d, err := StartDaemon(ctx, socket, filepath.Join(dir, "containerd.log"), env,
		[]string{bin.Containerd, "--config", h.Config}, func(ctx context.Context) error {
			if _, err := os.Stat(socket); err != nil {
				return errNotReady
			}
			_, err := run(ctx, 10*time.Second, bin.Ctr, "--address", socket, "version")
			return err
		})
	if err != nil {
		return nil, err
	}
	h.Daemon = d
	return h, nil
}

// Ctr runs ctr against h in the harness's namespace, with a deadline, and
// returns its combined output. A ctr command that takes --fifo-dir gets
// FIFODir: ctr's default, /run/containerd/fifo, is not the directory the
// shim sees behind the daemon's private /run, and the shim would wait
// forever on FIFOs ctr never opens.
func (h *HostContainerd) Ctr(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	return run(ctx, timeout, h.Bin.Ctr, append([]string{"--address", h.Socket, "--namespace", ctrNamespace}, args...)...)
}

// FIFODir is where ctr makes the containers' stdio FIFOs: a directory both
// sides of h's mount namespace see.
func (h *HostContainerd) FIFODir() string { return filepath.Join(h.Dir, "fifo") }

// Containerd builds gVisor's shim from o.GVisor's snapshot and, per runsc
// of o, starts a host containerd configured as docs/fleet.md says (see
// containerdRun for how the shim finds that runsc) and starts o.Runs
// containers with `ctr run -d` (each removed at once) and, into one
// long-lived container started the same way, o.Execs sequential `ctr task
// exec`, all with --runtime io.containerd.runsc.v1. It writes the
// reports into o.Out; the daemon, its shims and sandboxes and its state
// directory are gone when it returns.
func Containerd(ctx context.Context, o e2e.SuiteOptions) (_ *e2e.Document, retErr error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if err := CheckHost(); err != nil {
		return nil, err
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		o.Out = filepath.Join(repo, "out", "e2e-containerd-"+time.Now().Format("20060102-150405"))
	}
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return nil, err
	}
	// Without CAP_SYS_RESOURCE the shim cannot lower its OOM score and
	// fails every start; the OOM-compat build goes on (and says so in its
	// stamp).
	shim, err := build.BuildShim(ctx, build.ShimOptions{Version: o.GVisor, CacheDir: o.Cache, Progress: log, OOMCompat: !build.HasCapSysResource()})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "e2e containerd: shim %s: %s\n", shim.Path, build.ShimVersion(ctx, shim.Path))
	bin, err := ContainerdFor(ctx, o.GVisor, o.Cache, log)
	if err != nil {
		return nil, err
	}
	guest := filepath.Join(o.Out, "rootfs", "guest")
	if err := e2e.BuildDriver(ctx, repo, guest); err != nil {
		return nil, err
	}
	sb, err := harness.OpenStateBase(o.State, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := sb.Close(); err != nil && retErr == nil {
			retErr = fmt.Errorf("cleanup of %s: %w", sb.Dir, err)
		}
	}()
	doc := &e2e.Document{
		Schema: e2e.Schema, GVisor: o.GVisor, Runs: o.Runs, Execs: o.Execs, Modes: o.Modes,
		StormInterval: o.StormInterval.String(), Platform: o.Platform, Client: e2e.ClientContainerd,
		ClientVersion: containerdVersion(ctx, bin.Containerd), Affected: map[e2e.Op]bool{},
	}
	for _, r := range o.Runscs {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(log, "e2e containerd: %s (%s): %d ctr run + %d ctr task exec per mode\n", r.Name, r.Path, o.Runs, o.Execs)
		res, err := containerdRun(ctx, o, r, *bin, filepath.Join(sb.Dir, "containerd-"+r.Name), filepath.Dir(shim.Path), filepath.Dir(guest))
		if err != nil {
			return nil, err
		}
		doc.Results = append(doc.Results, res)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	if err := e2e.WriteReports(doc, o.Out); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "reports in %s\n", o.Out)
	return doc, ctx.Err()
}

// ContainerdFor returns the containerd that can run the shim of gVisor
// version: Debian's if the shim links containerd 1.x, else containerd and
// ctr of the version the shim links, built from the Go module proxy
// (ShimContainerdVersion says why).
func ContainerdFor(ctx context.Context, version, cacheDir string, log io.Writer) (*ContainerdBuild, error) {
	mod, err := gvisor.Download(ctx, version)
	if err != nil {
		return nil, err
	}
	v, err := ShimContainerdVersion(mod.Dir)
	if err != nil {
		return nil, err
	}
	if v == "" {
		return &DebianContainerd, nil
	}
	fmt.Fprintf(log, "e2e containerd: the shim of %s links containerd %s, whose bootstrap protocol Debian's containerd 1.6 cannot read: containerd %s from the Go module proxy\n", version, v, v)
	return BuildContainerd(ctx, v, cacheDir, log)
}

func containerdVersion(ctx context.Context, containerd string) string {
	out, _ := run(ctx, 10*time.Second, containerd, "--version")
	if f := strings.Fields(out); len(f) >= 3 {
		return f[2]
	}
	return strings.TrimSpace(out)
}

// containerdRun starts a containerd of its own in dir for runsc r, whose
// PATH finds r as "runsc" and the shim, and makes r's ctr runs and execs.
// ctr cannot name the runsc binary: its --runtime-config-path sends the
// shim options without a type URL, which gVisor's shim refuses
// ("unsupported option type"), so the shim runs "runsc" from its PATH.
// The configuration holds the CRI runtime of docs/fleet.md all the same.
func containerdRun(ctx context.Context, o e2e.SuiteOptions, r harness.Runsc, bin ContainerdBuild, dir, shimDir, rootfs string) (e2e.Result, error) {
	runscDir := filepath.Join(dir, "bin")
	if err := os.MkdirAll(runscDir, 0o755); err != nil {
		return e2e.Result{}, err
	}
	if err := os.Symlink(r.Path, filepath.Join(runscDir, "runsc")); err != nil {
		return e2e.Result{}, err
	}
	toml := filepath.Join(dir, "runsc.toml")
	if err := os.WriteFile(toml, []byte(RunscTOML(r.Path, o.Platform)), 0o644); err != nil {
		return e2e.Result{}, err
	}
	h, err := StartContainerd(ctx, bin, dir, ContainerdConfig(dir, toml), runscDir, shimDir)
	if err != nil {
		return e2e.Result{}, err
	}
	defer h.Stop()
	return h.runCtr(ctx, o, r, rootfs), nil
}

// runCtr makes one runsc's ctr runs and execs, and checks that the
// sandbox the shim started runs that runsc binary.
func (h *HostContainerd) runCtr(ctx context.Context, o e2e.SuiteOptions, r harness.Runsc, rootfs string) e2e.Result {
	start := time.Now()
	res := e2e.Result{Name: r.Name, Kind: r.Kind, Runsc: r.Path, Platform: o.Platform, ExitCode: 0,
		LogDir: h.Dir, RunscVersion: build.RunscVersion(ctx, r.Path)}
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	// --rootfs is a switch: the root file system's path is the first
	// argument after the flags. Each container gets a directory of its
	// own (runsc keeps its overlay's filestore file in it, and refuses a
	// second container on the same one), holding a link to the guest.
	rt := func(id string) ([]string, error) {
		dir := filepath.Join(h.Dir, "rootfs", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Link(filepath.Join(rootfs, "guest"), filepath.Join(dir, "guest")); err != nil && !os.IsExist(err) {
			return nil, err
		}
		return []string{"--runtime", RunscRuntime, "--fifo-dir", h.FIFODir(), "--annotation", SandboxAnnotation, "--rootfs", dir, id}, nil
	}
	for _, m := range o.Modes {
		if o.Runs > 0 {
			st := e2e.Stat{Op: e2e.OpRun, Mode: m, Errors: map[string]int{}, Samples: map[string]string{}}
			var ms []int64
			for i := 0; i < o.Runs; i++ {
				id := fmt.Sprintf("run-%s-%d", r.Name, i)
				t0 := time.Now()
				args, err := rt(id)
				out := ""
				if err == nil {
					// A started container, not one run to its end: the
					// shim reports exit status 128 for every sandbox
					// container whose process exits (measured), so
					// `ctr run --rm` always fails.
					out, err = h.Ctr(ctx, o.OpTimeout, append(append([]string{"run", "-d"}, args...), "/guest", "sleep")...)
				}
				ms = append(ms, time.Since(t0).Milliseconds())
				recordCtr(&st, err, out, id)
				h.removeCtr(id)
			}
			st.Summarise(ms)
			res.Stats = append(res.Stats, st)
		}
		if o.Execs > 0 {
			res.Stats = append(res.Stats, h.execs(ctx, o, r, m, rt, &res))
		}
	}
	return res
}

// execs starts the long-lived container and runs o.Execs ctr task exec
// into it.
func (h *HostContainerd) execs(ctx context.Context, o e2e.SuiteOptions, r harness.Runsc, m e2e.Mode, rt func(string) ([]string, error), res *e2e.Result) e2e.Stat {
	st := e2e.Stat{Op: e2e.OpExec, Mode: m, Errors: map[string]int{}, Samples: map[string]string{}}
	id := "sleeper-" + r.Name
	h.removeCtr(id)
	defer h.removeCtr(id)
	args, err := rt(id)
	if err != nil {
		st.Setup = err.Error()
		return st
	}
	if out, err := h.Ctr(ctx, o.OpTimeout, append(append([]string{"run", "-d"}, args...), "/guest", "sleep")...); err != nil {
		st.Setup = "ctr run -d: " + e2e.NormaliseError(out, id) + " " + err.Error()
		return st
	}
	// The sandbox the shim started must be this runsc binary.
	if !processRuns(r.Path) {
		res.Failure = fmt.Sprintf("no process runs %s while the container runs: the shim did not use binary_name", r.Path)
	}
	var ms []int64
	for i := 0; i < o.Execs; i++ {
		t0 := time.Now()
		out, err := h.Ctr(ctx, o.OpTimeout, "task", "exec", "--fifo-dir", h.FIFODir(), "--exec-id", fmt.Sprintf("e%d", i), id, "/guest", "true")
		ms = append(ms, time.Since(t0).Milliseconds())
		recordCtr(&st, err, out, id)
	}
	st.Summarise(ms)
	return st
}

// removeCtr kills and deletes a container, quietly (it may not exist).
func (h *HostContainerd) removeCtr(id string) {
	ctx := context.Background()
	_, _ = h.Ctr(ctx, 30*time.Second, "task", "kill", "-s", "SIGKILL", id)
	_, _ = h.Ctr(ctx, 30*time.Second, "task", "delete", "-f", id)
	_, _ = h.Ctr(ctx, 30*time.Second, "container", "delete", id)
}

func recordCtr(st *e2e.Stat, err error, out, id string) {
	st.Runs++
	if err == nil {
		return
	}
	st.Failures++
	msg := e2e.NormaliseError(out, id)
	if strings.TrimSpace(out) == "" {
		msg = err.Error()
	}
	st.Errors[msg]++
	if _, ok := st.Samples[msg]; !ok {
		st.Samples[msg] = tail(out, 2000)
	}
}

// processRuns reports whether a live process executes the binary path.
func processRuns(path string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.TrimSuffix(exe, " (deleted)") == path {
			return true
		}
	}
	return false
}
