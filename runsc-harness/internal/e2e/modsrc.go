package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
)

// ModuleSource fetches module@version through the go command (and so
// through GOPROXY and the module cache) and copies its source to dst
// without its vendor/ directory, so that a build there resolves the
// dependencies with -mod=mod from the proxy: runc and containerd, whose
// vendored trees the module cache holds read-only.
func ModuleSource(ctx context.Context, module, version, dst string) error {
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	dl.Dir, dl.Env = os.TempDir(), append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	js, err := dl.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(js, &mod); jerr != nil || mod.Error != "" || mod.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %v %s %s", module, version, err, mod.Error, js)
	}
	if err := fscopy.Tree(mod.Dir, dst); err != nil {
		return fmt.Errorf("copying %s's source: %w", module, err)
	}
	return os.RemoveAll(filepath.Join(dst, "vendor"))
}
