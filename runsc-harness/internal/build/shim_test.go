package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		src, err := oomCompatTree(mod, t.TempDir())
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
