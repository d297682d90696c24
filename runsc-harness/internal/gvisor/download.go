package gvisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"
)

// Module is a downloaded gVisor version.
type Module struct {
	// Version is the module version.
	Version string
	// Dir is the unpacked, read-only source in the module cache.
	Dir string
	// Sum is the module's go.sum hash (h1:...).
	Sum string
}

// Download fetches version v of the gVisor module through the go command
// (and so through GOPROXY and the module cache), then checks that the
// unpacked source in the cache still matches the module's hash.
func Download(ctx context.Context, v string) (*Module, error) {
	tmp, err := os.MkdirTemp("", "restartsys-download-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// Run outside any module, so the caller's go.mod plays no part.
	out, err := goCmd(ctx, tmp, []string{"GOFLAGS=-mod=mod"}, "mod", "download", "-json", ModulePath+"@"+v)
	var info struct {
		Path, Version, Dir, Sum, Error string
	}
	if jerr := json.Unmarshal(out, &info); jerr != nil {
		if err != nil {
			return nil, fmt.Errorf("downloading %s@%s: %w", ModulePath, v, err)
		}
		return nil, fmt.Errorf("downloading %s@%s: unexpected output %q", ModulePath, v, out)
	}
	if info.Error != "" {
		return nil, fmt.Errorf("downloading %s@%s: %s", ModulePath, v, info.Error)
	}
	if err != nil {
		return nil, fmt.Errorf("downloading %s@%s: %w", ModulePath, v, err)
	}
	m := &Module{Version: info.Version, Dir: info.Dir, Sum: info.Sum}
	if err := m.Verify(); err != nil {
		return nil, err
	}
	return m, nil
}

// Verify checks that m.Dir hashes to m.Sum, so that a module cache whose
// files were changed or lost after download is not built from.
func (m *Module) Verify() error {
	got, err := dirhash.HashDir(m.Dir, ModulePath+"@"+m.Version, dirhash.Hash1)
	if err != nil {
		return fmt.Errorf("module cache for %s@%s is unreadable: %w", ModulePath, m.Version, err)
	}
	if got != m.Sum {
		return fmt.Errorf("module cache for %s@%s is corrupt: %s hashes to %s, want %s (remove it with `go clean -modcache` and retry)", ModulePath, m.Version, m.Dir, got, m.Sum)
	}
	return nil
}

// goCmd runs the go command in dir with extra environment and returns its
// standard output. A failure's error carries go's standard error.
func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, fmt.Errorf("go %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
		}
		return out, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
