package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/guests"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
)

// DindPackage is the import path (relative to the repository root) of the
// Docker-in-Docker container's init.
const DindPackage = "./runsc-harness/internal/e2e/docker/dind"

// Suite starts a host dockerd with every runsc of o as a runtime
// (runsc-NAME), builds the Docker-in-Docker image (the inner dockerd,
// containerd and runc o.RuncVersion, built into o.Cache), runs one such
// container per runsc (o.Runs docker run and o.Execs docker exec per mode
// inside it) and writes the reports into o.Out (a fresh
// out/e2e-docker-TIMESTAMP when empty); the daemon's files live in the
// state base o.State (a fresh temporary one when empty). Every daemon, container, sandbox and state directory
// it made is gone when it returns.
func Suite(ctx context.Context, o e2e.SuiteOptions) (_ *e2e.Document, retErr error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if err := CheckHost(); err != nil {
		return nil, err
	}
	for _, r := range o.Runscs {
		if fi, err := os.Stat(r.Path); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("runsc %s: %s is not a file", r.Name, r.Path)
		}
	}
	repo, err := guests.RepoRoot(".")
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		o.Out = filepath.Join(repo, "out", "e2e-docker-"+time.Now().Format("20060102-150405"))
	}
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	runc, err := e2e.BuildRunc(ctx, o.RuncVersion, o.Cache, log)
	if err != nil {
		return nil, err
	}
	image, err := buildImage(ctx, repo, o.Out, runc.Path)
	if err != nil {
		return nil, err
	}
	sb, err := harness.OpenStateBase(o.State, log)
	if err != nil {
		return nil, err
	}
	SweepCgroups()
	defer func() {
		if err := sb.Close(); err != nil {
			fmt.Fprintf(log, "e2e docker: cleanup of %s: %v\n", sb.Dir, err)
			if retErr == nil {
				retErr = err
			}
		}
	}()
	cfg := DaemonJSON{Runtimes: map[string]Runtime{}}
	for _, r := range o.Runscs {
		cfg.Runtimes["runsc-"+r.Name] = Runtime{Path: r.Path, RuntimeArgs: []string{"--platform=" + o.Platform}}
	}
	fmt.Fprintf(log, "e2e docker: starting a host dockerd in %s\n", sb.Dir)
	h, err := StartDocker(ctx, filepath.Join(sb.Dir, "docker"), cfg)
	if err != nil {
		return nil, err
	}
	defer h.Close(context.Background())
	tag := "restartsys-dind:" + image.sum[:12]
	if err := h.Import(ctx, image.path, tag); err != nil {
		return nil, err
	}
	doc := &e2e.Document{
		Schema: e2e.Schema, GVisor: o.GVisor, RuncVersion: runc.Version, RuncTags: runc.Tags,
		Runs: o.Runs, Execs: o.Execs, Modes: o.Modes, StormInterval: o.StormInterval.String(),
		Platform: o.Platform, Client: e2e.ClientDocker, ClientVersion: Version(ctx), Affected: o.Affected,
	}
	for _, r := range o.Runscs {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(log, "e2e docker: Docker-in-Docker under runsc-%s (%s): %d docker run + %d docker exec per mode, modes %v\n",
			r.Name, r.Path, o.Runs, o.Execs, o.Modes)
		res := h.runDind(ctx, o, r, tag)
		if res.Failure != "" {
			fmt.Fprintf(log, "e2e docker: %s: %s\n", r.Name, res.Failure)
		}
		doc.Results = append(doc.Results, res)
	}
	if err := e2e.WriteReports(doc, o.Out); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "reports in %s\n", o.Out)
	if err := ctx.Err(); err != nil {
		return doc, fmt.Errorf("interrupted; partial reports in %s: %w", o.Out, err)
	}
	return doc, nil
}

type builtImage struct{ path, sum string }

// buildImage builds the dind init and the guest and writes the
// Docker-in-Docker root file system tar into out.
func buildImage(ctx context.Context, repo, out, runc string) (*builtImage, error) {
	bin := filepath.Join(out, "bin")
	dind, guest := filepath.Join(bin, "dind"), filepath.Join(bin, "guest")
	if err := goBuild(ctx, repo, dind, DindPackage); err != nil {
		return nil, err
	}
	if err := e2e.BuildDriver(ctx, repo, guest); err != nil {
		return nil, err
	}
	guestTar := filepath.Join(bin, "guest.tar")
	if _, err := WriteRootfsTar(guestTar, []File{{Src: guest, Dst: "/guest", Mode: 0o755}}); err != nil {
		return nil, err
	}
	files, err := HostBinaries(ctx, Dockerd, ContainerdBin, RuncShim, DockerCLI)
	if err != nil {
		return nil, err
	}
	files = append(files, File{Src: runc, Dst: "/usr/bin/runc", Mode: 0o755},
		File{Src: dind, Dst: "/driver", Mode: 0o755}, File{Src: guestTar, Dst: "/guest.tar", Mode: 0o644})
	img := &builtImage{path: filepath.Join(bin, "dind.tar")}
	if img.sum, err = WriteRootfsTar(img.path, files); err != nil {
		return nil, err
	}
	return img, nil
}

func goBuild(ctx context.Context, repo, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// runDind runs one Docker-in-Docker container under runsc-NAME and reads
// its results.
func (h *HostDocker) runDind(ctx context.Context, o e2e.SuiteOptions, r harness.Runsc, image string) e2e.Result {
	start := time.Now()
	res := e2e.Result{Name: r.Name, Kind: r.Kind, Runsc: r.Path, Platform: o.Platform, ExitCode: -1,
		LogDir: filepath.Join(o.Out, "logs", r.Name), RunscVersion: build.RunscVersion(ctx, r.Path)}
	if err := os.MkdirAll(res.LogDir, 0o755); err != nil {
		res.Failure = err.Error()
		return res
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2*time.Minute + time.Duration((o.Runs+o.Execs)*len(o.Modes))*3*time.Second
	}
	modes := make([]string, len(o.Modes))
	for i, m := range o.Modes {
		modes[i] = string(m)
	}
	name := "dind-" + r.Name
	_, _ = h.Docker(ctx, time.Minute, "rm", "-f", name)
	defer func() {
		_, _ = h.Docker(context.Background(), 2*time.Minute, "rm", "-f", name)
		res.DurationMS = time.Since(start).Milliseconds()
	}()
	if _, err := h.Docker(ctx, 2*time.Minute, "run", "-d", "--name", name, "--runtime=runsc-"+r.Name,
		"--privileged", "--network", "none", "-v", res.LogDir+":/out", image,
		"/driver", "-runs", strconv.Itoa(o.Runs), "-execs", strconv.Itoa(o.Execs), "-modes", strings.Join(modes, ","),
		"-storm-interval", o.StormInterval.String(), "-op-timeout", o.OpTimeout.String()); err != nil {
		res.Failure = "starting the Docker-in-Docker container: " + err.Error()
		return res
	}
	code, werr := h.Docker(ctx, timeout, "wait", name)
	stdout, stderr := filepath.Join(res.LogDir, "stdout"), filepath.Join(res.LogDir, "stderr")
	if err := h.logs(name, stdout, stderr); err != nil && werr == nil {
		werr = err
	}
	out, _ := os.ReadFile(stdout)
	var perr error
	res.Stats, perr = e2e.ParseStats(out)
	want := 0
	for range o.Modes {
		if o.Runs > 0 {
			want++
		}
		if o.Execs > 0 {
			want++
		}
	}
	switch {
	case werr != nil:
		res.Failure = fmt.Sprintf("docker wait: %v; logs in %s: %s", werr, res.LogDir, tailFile(stderr, 600))
	case perr != nil:
		res.Failure = perr.Error()
	}
	if n, err := strconv.Atoi(strings.TrimSpace(code)); err == nil {
		res.ExitCode = n
	}
	if res.Failure == "" && res.ExitCode != 0 {
		res.Failure = fmt.Sprintf("dind exited with status %d; logs in %s: %s", res.ExitCode, res.LogDir, tailFile(stderr, 600))
	}
	if res.Failure == "" && len(res.Stats) < want {
		res.Failure = fmt.Sprintf("dind reported %d of %d results; logs in %s", len(res.Stats), want, res.LogDir)
	}
	return res
}

// logs writes the container's stdout and stderr into files.
func (h *HostDocker) logs(name, stdout, stderr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outf, err := os.Create(stdout)
	if err != nil {
		return err
	}
	defer outf.Close()
	errf, err := os.Create(stderr)
	if err != nil {
		return err
	}
	defer errf.Close()
	cmd := exec.CommandContext(ctx, DockerCLI, "--host", "unix://"+h.Socket, "logs", name)
	cmd.Stdout, cmd.Stderr = outf, errf
	return cmd.Run()
}
