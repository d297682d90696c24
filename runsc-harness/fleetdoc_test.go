package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e/docker"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/testrunsc"
)

// fence is one fenced block of a Markdown file.
type fence struct {
	line int
	tags []string
	body string
}

// fences returns the fenced blocks of a Markdown document.
func fences(t *testing.T, path string) []fence {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fence
	var cur *fence
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{line: n, tags: strings.Fields(strings.TrimPrefix(line, "```"))}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated fence", path, cur.line)
	}
	return out
}

func hasTag(f fence, tag string) bool {
	for _, t := range f.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// TestFleetDocTagsEveryBlock makes sure no block of docs/fleet.md is
// silently left unchecked: each is either run by TestFleetDocRuns or says
// which kind of host it needs.
func TestFleetDocTagsEveryBlock(t *testing.T) {
	for _, f := range fences(t, "../docs/fleet.md") {
		if !hasTag(f, "runnable") && !hasTag(f, "docker-host") && !hasTag(f, "containerd-host") && !hasTag(f, "k8s-host") {
			t.Errorf("docs/fleet.md:%d: block tagged %q is neither runnable nor marked for a docker/containerd/k8s host", f.line, f.tags)
		}
	}
}

// TestFleetDocRuns runs the runnable shell blocks of docs/fleet.md, in
// order and as written, with PREFIX pointing at a scratch directory that
// already holds a "previous" runsc, and checks that the install, the node
// check and the rollback did what the document says.
func TestFleetDocRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds runsc and runs the storm")
	}
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	n := 0
	for _, f := range fences(t, "../docs/fleet.md") {
		if hasTag(f, "runnable") {
			if !hasTag(f, "sh") {
				t.Fatalf("docs/fleet.md:%d: runnable block is not sh", f.line)
			}
			script.WriteString(f.body)
			n++
		}
	}
	if n < 5 {
		t.Fatalf("only %d runnable blocks in docs/fleet.md", n)
	}
	prefix := t.TempDir()
	if err := os.MkdirAll(filepath.Join(prefix, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	previous := "#!/bin/sh\necho runsc version previous\n"
	if err := os.WriteFile(filepath.Join(prefix, "bin", "runsc"), []byte(previous), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PREFIX="+prefix)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the runnable blocks of docs/fleet.md failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"+restartsys-core-", // the patched stamp, after the build and after the install
		"no EINTR under " + filepath.Join(prefix, "bin", "runsc"),
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != "runsc version previous" {
		t.Errorf("after the rollback, runsc --version printed %q, want the previous runsc", last)
	}
}

// TestGeneratedDocsUpToDate checks that docs/affected-versions.md and
// docs/upstreaming.md are what `runsc-harness docs` generates from the
// series, the snapshots' sources and the recorded storm runs.
func TestGeneratedDocsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads every gVisor snapshot")
	}
	cmd := exec.Command(cliBin, "docs", "--check", "--dir", "docs")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docs --check: %v\n%s", err, out)
	}
}

// hostBlocks returns the bodies of docs/fleet.md's blocks tagged tag and
// lang ("sh", "json", "toml"), in order, with the substitutions the doc
// names: subst maps a literal path to the private one.
func hostBlocks(t *testing.T, tag, lang string, subst map[string]string) []string {
	t.Helper()
	var out []string
	for _, f := range fences(t, "../docs/fleet.md") {
		if hasTag(f, tag) && hasTag(f, lang) {
			body := f.body
			for from, to := range subst {
				body = strings.ReplaceAll(body, from, to)
			}
			out = append(out, body)
		}
	}
	if len(out) == 0 {
		t.Fatalf("docs/fleet.md has no %s block tagged %s", lang, tag)
	}
	return out
}

// systemctlStandIn is the systemctl the host blocks get: reload docker is
// the unit's reload (SIGHUP to dockerd), restart containerd nothing (the
// test starts containerd after writing its configuration).
const systemctlStandIn = `#!/bin/sh
case "$1 $2" in
"reload docker") kill -HUP "$FLEETDOC_DOCKERD_PID" && sleep 2 ;;
"restart containerd") ;;
*) echo "systemctl stand-in: unexpected $*" >&2; exit 1 ;;
esac
`

// TestFleetDocHosts runs the docker-host and containerd-host blocks of
// docs/fleet.md against a real dockerd and a real containerd with private
// state directories and sockets, with the patched runsc and gVisor's shim
// installed under PREFIX as step 2 installs them (see the doc's
// introduction for what the test substitutes).
func TestFleetDocHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dockerd and containerd and runs containers under runsc")
	}
	if err := sandbox.CheckRoot(); err != nil {
		t.Fatal(err) // CI runs as root: this test must not skip there
	}
	if err := docker.CheckHost(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cache := build.DefaultCacheDir()
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "bin")
	if err := build.Install(testrunsc.Patched(t), filepath.Join(bin, "runsc")); err != nil {
		t.Fatal(err)
	}
	shim, err := build.BuildShim(ctx, build.ShimOptions{Version: testrunsc.Version, CacheDir: cache, OOMCompat: !build.HasCapSysResource()})
	if err != nil {
		t.Fatal(err)
	}
	if err := build.Install(shim.Path, filepath.Join(bin, build.ShimName)); err != nil {
		t.Fatal(err)
	}
	ctd, err := docker.ContainerdFor(ctx, testrunsc.Version, cache, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := harness.OpenStateBase("", testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sb.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}()
	standIn := filepath.Join(sb.Dir, "standin")
	if err := os.MkdirAll(standIn, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(standIn, "systemctl"), []byte(systemctlStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	// A local image named busybox, from files: no registry here.
	files, err := docker.HostBinaries(ctx, "/bin/true", "/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(sb.Dir, "busybox.tar")
	if _, err := docker.WriteRootfsTar(image, files); err != nil {
		t.Fatal(err)
	}
	// runBlocks runs the tag's shell blocks, in the mount namespace of
	// process ns (and its PID namespace, which its /proc shows) if it is
	// not 0.
	runBlocks := func(tag string, subst map[string]string, ns int, env ...string) string {
		var script strings.Builder
		script.WriteString("set -euxo pipefail\n")
		for _, b := range hostBlocks(t, tag, "sh", subst) {
			script.WriteString(b)
		}
		args := []string{"bash", "-c", script.String()}
		if ns != 0 {
			args = append([]string{"nsenter", "--mount", "--pid", "--target", fmt.Sprint(ns)}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), append(env, "PATH="+standIn+":"+ctd.Dir+":"+bin+":"+os.Getenv("PATH"))...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the %s blocks of docs/fleet.md failed: %v\n%s", tag, err, out)
		}
		return string(out)
	}

	// Docker: daemon.json's runtimes, reloaded, and a container under runsc.
	h, err := docker.StartDocker(ctx, filepath.Join(sb.Dir, "docker"), docker.DaemonJSON{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	if err := h.Import(ctx, image, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	daemonJSON := hostBlocks(t, "docker-host", "json", map[string]string{"/usr/local/bin/": bin + "/"})
	if err := os.WriteFile(h.ConfigFile, []byte(daemonJSON[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runBlocks("docker-host", nil, 0, "DOCKER_HOST=unix://"+h.Socket, fmt.Sprintf("FLEETDOC_DOCKERD_PID=%d", h.MainPID()))
	t.Logf("docker-host blocks:\n%s", out)
	if info, err := h.Docker(ctx, time.Minute, "info", "--format", "{{json .Runtimes}}"); err != nil || !strings.Contains(info, filepath.Join(bin, "runsc")) {
		t.Errorf("dockerd's runtimes after the reload: %s, %v; want runsc at %s", info, err, filepath.Join(bin, "runsc"))
	}

	// containerd: config.toml and runsc.toml as written, then a container
	// through the shim.
	dir := filepath.Join(sb.Dir, "containerd")
	subst := map[string]string{"/usr/local/bin/": bin + "/", "/etc/containerd/": dir + "/"}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tomls := hostBlocks(t, "containerd-host", "toml", subst)
	if len(tomls) != 2 {
		t.Fatalf("%d toml blocks tagged containerd-host, want config.toml and runsc.toml", len(tomls))
	}
	if err := os.WriteFile(filepath.Join(dir, "runsc.toml"), []byte(tomls[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf("root = %q\nstate = %q\n", filepath.Join(dir, "root"), filepath.Join(dir, "state")) +
		tomls[0] + fmt.Sprintf("\n[grpc]\n  address = %q\n", sock)
	c, err := docker.StartContainerd(ctx, *ctd, dir, config, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	saved := filepath.Join(sb.Dir, "busybox-saved.tar")
	if _, err := h.Docker(ctx, 2*time.Minute, "save", "-o", saved, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, ctd.Ctr, "--address", sock, "images", "import", saved).CombinedOutput(); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	out = runBlocks("containerd-host", subst, c.MainPID(), "CONTAINERD_ADDRESS="+sock)
	t.Logf("containerd-host blocks:\n%s", out)
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
