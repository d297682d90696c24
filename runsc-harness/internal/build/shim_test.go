package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
)

// TestOOMCompatTree checks the one change of an OOM-compat shim on both
// shapes of gVisor's shim source: the newer manager.go and the older
// service.go; a tree without either fails.
func TestOOMCompatTree(t *testing.T) {
	for _, c := range []struct {
		file, src string
		ok        bool
	}{
		{"pkg/shim/v1/manager.go", "\tif err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {\n\t\treturn shim.BootstrapParams{}, fmt.Errorf(\"failed to set OOM Score on shim: %w\", err)\n\t}\n", true},
		{"pkg/shim/service.go", "\tif err := shim.SetScore(cmd.Process.Pid); err != nil {\n\t\treturn \"\", fmt.Errorf(\"failed to set OOM Score on shim: %w\", err)\n\t}\n", true},
		{"pkg/shim/v1/manager.go", "package v1\n", false},
	} {
		mod := t.TempDir()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mod, c.file)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, c.file), []byte(c.src), 0o444); err != nil {
			t.Fatal(err)
		}
		src, err := shimTree(mod, t.TempDir(), true)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.file, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "return") || !strings.Contains(string(b), "_ = err // restartsys OOM compat") {
			t.Errorf("%s after the change:\n%s", c.file, b)
		}
		orig, _ := os.ReadFile(filepath.Join(mod, c.file))
		if string(orig) != c.src {
			t.Errorf("%s: the module's own file changed", c.file)
		}
	}
}

// TestBuildShimLeavesModuleUntouched builds a shim from a module whose
// go.mod go build -mod=mod rewrites (it has no go directive, as an untidy
// go.mod of a real snapshot needs rewriting) and checks that the module's
// own tree, which stands for the read-only module cache, is unchanged.
func TestBuildShimLeavesModuleUntouched(t *testing.T) {
	mod := t.TempDir()
	const goMod = "module example.com/fakegvisor\n"
	files := map[string]string{
		"go.mod":       goMod,
		"shim/main.go": "package main\n\nfunc main() {}\n",
	}
	for name, body := range files {
		path := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	o := ShimOptions{
		Version:  "v0.0.0-20260101000000-000000000000",
		CacheDir: t.TempDir(),
		Download: func(context.Context, string) (*gvisor.Module, error) {
			return &gvisor.Module{Version: "v0.0.0-20260101000000-000000000000", Dir: mod}, nil
		},
	}
	art, err := BuildShim(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(art.Path); err != nil {
		t.Errorf("no shim: %v", err)
	}
	for name, body := range files {
		b, err := os.ReadFile(filepath.Join(mod, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != body {
			t.Errorf("the shim build changed the module's %s:\n%s", name, b)
		}
	}
}
