package docker

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/patches"
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// TestAffectedOps reads the real series map: 2026-05-18 has both bugs
// docker run and docker exec hit, the newest snapshot only the exec-FIFO
// one (docker run), a version before the range neither.
func TestAffectedOps(t *testing.T) {
	ser, err := series.Load(patches.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		version   string
		exec, run bool
	}{
		{"v0.0.0-20230101000000-000000000000", false, false}, // before the range
		{"v0.0.0-20260518063529-209a0ce076a1", true, true},   // both bugs
		{"v0.0.0-20260905035102-160fafc42237", false, true},  // the sync-socket bug fixed upstream; exec FIFO only
	} {
		got := AffectedOps(ser, c.version)
		if got[e2e.OpExec] != c.exec || got[e2e.OpRun] != c.run {
			t.Errorf("AffectedOps(%s) = %v, want exec %v, run %v", c.version, got, c.exec, c.run)
		}
	}
}

func TestDaemonJSONIsFleetFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.json")
	cfg := DaemonJSON{Runtimes: map[string]Runtime{"runsc-patched": {Path: "/p/runsc", RuntimeArgs: []string{"--platform=systrap"}}}}
	if err := WriteDaemonJSON(path, cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var got map[string]map[string]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["runtimes"]["runsc-patched"]["path"] != "/p/runsc" {
		t.Errorf("daemon.json %s: want runtimes.runsc-patched.path", b)
	}
}

func TestContainerdFiles(t *testing.T) {
	cfg := ContainerdConfig("/s/c", "/s/c/runsc.toml")
	for _, want := range []string{"version = 2", `root = "/s/c/root"`, `address = "/s/c/containerd.sock"`,
		`runtime_type = "io.containerd.runsc.v1"`, `ConfigPath = "/s/c/runsc.toml"`, `TypeUrl = "io.containerd.runsc.v1.options"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.toml lacks %q:\n%s", want, cfg)
		}
	}
	if got := RunscTOML("/p/runsc", "ptrace"); !strings.Contains(got, `binary_name = "/p/runsc"`) || !strings.Contains(got, `platform = "ptrace"`) {
		t.Errorf("runsc.toml: %s", got)
	}
}

func TestShimContainerdVersion(t *testing.T) {
	for _, c := range []struct{ gomod, want string }{
		{"module gvisor.dev/gvisor\n\nrequire (\n\tgithub.com/containerd/containerd/api v1.10.0\n\tgithub.com/containerd/containerd/v2 v2.1.5\n)\n", "v2.1.5"},
		{"module gvisor.dev/gvisor\n\nrequire github.com/containerd/containerd/v2 v2.0.0\n", "v2.0.0"},
		{"module gvisor.dev/gvisor\n\nrequire (\n\tgithub.com/containerd/containerd v1.4.13\n)\n", ""},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(c.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := ShimContainerdVersion(dir); err != nil || got != c.want {
			t.Errorf("ShimContainerdVersion(%q) = %q, %v; want %q", c.gomod, got, err, c.want)
		}
	}
}

func TestWriteRootfsTar(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rootfs.tar")
	sum1, err := WriteRootfsTar(path, []File{{Src: bin, Dst: "/usr/bin/prog", Mode: 0o755}})
	if err != nil {
		t.Fatal(err)
	}
	sum2, err := WriteRootfsTar(path, []File{{Src: bin, Dst: "/usr/bin/prog", Mode: 0o755}})
	if err != nil || sum1 != sum2 {
		t.Errorf("the same files gave sums %s and %s (%v): the image tag would change", sum1, sum2, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h.Typeflag
	}
	for name, typ := range map[string]byte{
		"usr/": tar.TypeDir, "usr/bin/": tar.TypeDir, "usr/bin/prog": tar.TypeReg, "tmp/": tar.TypeDir,
		"var/run": tar.TypeSymlink, "etc/passwd": tar.TypeReg, "out/": tar.TypeDir,
	} {
		if seen[name] != typ {
			t.Errorf("%s: type %q, want %q (entries %v)", name, seen[name], typ, seen)
		}
	}
}
