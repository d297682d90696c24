// Package guests builds the guest programs of syscalltests/ into static
// binaries, keyed by the content of their sources so that an unchanged guest
// is not rebuilt.
package guests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Lang is the language a guest is written in.
type Lang string

// The languages guests are written in.
const (
	Go Lang = "go"
	C  Lang = "c"
)

// Guest is one guest program.
type Guest struct {
	// Name is what --guest selects and what the binary is called.
	Name string
	// Lang selects the toolchain.
	Lang Lang
	// Dir is the source directory, relative to the repository root.
	Dir string
	// Namespaces runs the native side as PID 1 of new PID and mount
	// namespaces, as runsc runs a container's first process.
	Namespaces bool
	// Caps are capabilities the guest's OCI bundle grants on top of the
	// default set, so that it has under runsc what it has natively as root.
	Caps []string
	// HostFIFOEnv, when set, names the environment variable through which
	// the guest gets the path of a FIFO that the harness made on the host
	// (HostFIFOName in a fresh directory for each run): natively the path
	// itself; under runsc its path inside HostDirMount, a bind mount of the
	// directory (a gofer mount), with runsc's --host-fifo=open so that the
	// FIFO can be opened. A FIFO made inside the sandbox would not do: on a
	// gofer mount too it is the Sentry's own pipe, not the host's.
	HostFIFOEnv string
	// ImageFIFOEnv, when set, names the environment variable through which
	// the guest gets the path of a FIFO that is part of its container
	// image: under runsc, ImageFIFOPath, made with mkfifo in the bundle's
	// rootfs (a fresh bundle for each run) before the container starts, as
	// an image layer ships it; natively, a FIFO in a fresh host directory.
	ImageFIFOEnv string
	// RunscFlags are further runsc flags the guest always runs with
	// ("--overlay2=none", say), so that one guest can be declared under
	// several runsc configurations.
	RunscFlags []string
	// Benchmark marks a guest that prints timings, not a guestio report:
	// bench runs it; run and the Bazel conformance targets do not.
	Benchmark bool
}

// HostDirMount is where the directory of a guest's host FIFO
// (Guest.HostFIFOEnv) is mounted inside the sandbox.
const HostDirMount = "/hostdir"

// HostFIFOName is the name of the host FIFO in its directory.
const HostFIFOName = "fifo"

// ImageFIFOPath is where a guest's image FIFO (Guest.ImageFIFOEnv) is in
// its rootfs, as runit's supervise/ok FIFO is in the images of gVisor issue
// 12504.
const ImageFIFOPath = "/service/supervise/ok"

// HostFIFORunscFlags are the runsc flags a guest with a host FIFO runs
// with.
var HostFIFORunscFlags = []string{"--host-fifo=open"}

// Known are the guests the harness can build, each declared once. "tiny"
// is the harness's own plumbing-test guest; "bench" is the Sentry-overhead
// micro-benchmark of the bench command.
var Known = []Guest{
	{Name: "storm", Lang: Go, Dir: "syscalltests/storm"},
	{Name: "matrix", Lang: C, Dir: "syscalltests/matrix", HostFIFOEnv: "MATRIX_HOST_FIFO"},
	{Name: "keyring", Lang: C, Dir: "syscalltests/keyring"},
	{Name: "nsc", Lang: C, Dir: "syscalltests/nsc", Namespaces: true, Caps: []string{"CAP_SYS_ADMIN"}},
	{Name: "nsgo", Lang: Go, Dir: "syscalltests/nsgo", Namespaces: true, Caps: []string{"CAP_SYS_ADMIN"}},
	// gVisor issue 12504: a FIFO in the image, under runsc's default rootfs
	// overlay, without it, and with --host-fifo=open.
	{Name: "imagefifo", Lang: C, Dir: "syscalltests/imagefifo", ImageFIFOEnv: "IMAGEFIFO_PATH"},
	{Name: "imagefifo-nooverlay", Lang: C, Dir: "syscalltests/imagefifo", ImageFIFOEnv: "IMAGEFIFO_PATH", RunscFlags: []string{"--overlay2=none"}},
	{Name: "imagefifo-hostfifo", Lang: C, Dir: "syscalltests/imagefifo", ImageFIFOEnv: "IMAGEFIFO_PATH", RunscFlags: []string{"--host-fifo=open"}},
	{Name: "imagefifo-nooverlay-hostfifo", Lang: C, Dir: "syscalltests/imagefifo", ImageFIFOEnv: "IMAGEFIFO_PATH", RunscFlags: []string{"--overlay2=none", "--host-fifo=open"}},
	{Name: "bench", Lang: C, Dir: "syscalltests/bench", Benchmark: true},
	{Name: "tiny", Lang: Go, Dir: "runsc-harness/internal/guests/tiny"},
}

// ErrUnknown is wrapped by Lookup for a name not in Known.
var ErrUnknown = errors.New("unknown guest")

// Lookup returns the Known guest called name.
func Lookup(name string) (Guest, error) {
	var names []string
	for _, g := range Known {
		if g.Name == name {
			return g, nil
		}
		names = append(names, g.Name)
	}
	return Guest{}, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(names, ", "))
}

// Select resolves a --guest value: comma-separated guest names, "all"
// standing for storm and matrix. A benchmark guest has nothing to compare
// and is refused; so is an empty selection.
func Select(spec string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(spec, ",") {
		switch name = strings.TrimSpace(name); name {
		case "all":
			out = append(out, "storm", "matrix")
		case "":
		default:
			g, err := Lookup(name)
			if err != nil {
				return nil, err
			}
			if g.Benchmark {
				return nil, fmt.Errorf("guest %s is a benchmark with nothing to compare: use runsc-harness bench", name)
			}
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no guest selected")
	}
	return out, nil
}

// ModulePath is the module whose root RepoRoot looks for.
const ModulePath = "github.com/restartsys/restartsys"

// RepoRoot walks up from dir to the directory whose go.mod declares
// ModulePath.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+ModulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the current directory", ModulePath)
		}
		dir = parent
	}
}

// Builder builds guests of one repository into one output directory.
type Builder struct {
	// RepoRoot is the repository root (holding go.mod).
	RepoRoot string
	// OutDir receives the binaries, named NAME-KEY where KEY is a digest of
	// the inputs.
	OutDir string
	// Log, if set, receives one line per guest saying built or reused.
	Log io.Writer
}

// Build returns the path of g's binary, building it unless a binary with the
// same content key already exists.
func (b *Builder) Build(ctx context.Context, g Guest) (string, error) {
	src := filepath.Join(b.RepoRoot, g.Dir)
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("guest %s: no source directory %s", g.Name, src)
	}
	key, err := b.Key(ctx, g)
	if err != nil {
		return "", fmt.Errorf("guest %s: %w", g.Name, err)
	}
	out := filepath.Join(b.OutDir, g.Name+"-"+key)
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		b.logf("guest %s: up to date (%s)", g.Name, out)
		return out, nil
	}
	if err := os.MkdirAll(b.OutDir, 0o755); err != nil {
		return "", err
	}
	// A private temporary name: two runs may build the same guest at
	// once (a native run while a runsc build boots its binary, say); the
	// second rename replaces the first's identical binary.
	f, err := os.CreateTemp(b.OutDir, g.Name+"-"+key+".tmp*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	switch g.Lang {
	case Go:
		err = b.buildGo(ctx, g, tmp)
	case C:
		err = b.buildC(ctx, g, tmp)
	default:
		err = fmt.Errorf("unknown language %q", g.Lang)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("guest %s: %w", g.Name, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	b.logf("guest %s: built %s", g.Name, out)
	return out, nil
}

func (b *Builder) logf(format string, args ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, format+"\n", args...)
	}
}

// cFlags are the flags of every C guest build.
var cFlags = []string{"-static", "-O2", "-pthread"}

// Key is the content key of g: a digest of the toolchain version, the build
// flags and every source file the guest can depend on inside the
// repository (for Go guests, go.mod, go.sum and all Go files of the guest
// and of syscalltests/, whose packages guests import).
func (b *Builder) Key(ctx context.Context, g Guest) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "lang=%s\n", g.Lang)
	var dirs []string
	var match func(string) bool
	switch g.Lang {
	case Go:
		v, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
		if err != nil {
			return "", fmt.Errorf("go toolchain: %w", err)
		}
		fmt.Fprintf(h, "go=%s", v)
		for _, f := range []string{"go.mod", "go.sum"} {
			if err := hashFile(h, b.RepoRoot, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
		dirs = []string{g.Dir, "syscalltests"}
		match = func(p string) bool { return strings.HasSuffix(p, ".go") }
	case C:
		cc, err := lookCC()
		if err != nil {
			return "", err
		}
		v, err := exec.CommandContext(ctx, cc, "--version").Output()
		if err != nil {
			return "", fmt.Errorf("%s --version: %w", cc, err)
		}
		fmt.Fprintf(h, "cc=%s\nflags=%q\n", v, cFlags)
		dirs = []string{g.Dir}
		match = func(p string) bool {
			return strings.HasSuffix(p, ".c") || strings.HasSuffix(p, ".h")
		}
	}
	var files []string
	seen := map[string]bool{}
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(b.RepoRoot, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(b.RepoRoot, p)
			if !e.IsDir() && match(p) && !seen[rel] {
				seen[rel] = true
				files = append(files, rel)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	sort.Strings(files)
	for _, f := range files {
		if err := hashFile(h, b.RepoRoot, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func hashFile(h io.Writer, root, rel string) error {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "file %s %d\n", rel, len(data))
	h.Write(data)
	return nil
}

func (b *Builder) buildGo(ctx context.Context, g Guest, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./"+filepath.ToSlash(g.Dir))
	cmd.Dir = b.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, msg)
	}
	return nil
}

// ErrNoCC is wrapped when no C compiler is found.
var ErrNoCC = errors.New("no C compiler: install one (Debian: apt-get install gcc libc6-dev)")

// ErrNoStaticLibc is wrapped when cc cannot link a static program.
var ErrNoStaticLibc = errors.New("cc cannot link static programs: the static C library is missing (Debian: apt-get install libc6-dev)")

func lookCC() (string, error) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	p, err := exec.LookPath(cc)
	if err != nil {
		return "", fmt.Errorf("%w (%s not in PATH)", ErrNoCC, cc)
	}
	return p, nil
}

func (b *Builder) buildC(ctx context.Context, g Guest, out string) error {
	cc, err := lookCC()
	if err != nil {
		return err
	}
	src := filepath.Join(b.RepoRoot, g.Dir)
	srcs, err := filepath.Glob(filepath.Join(src, "*.c"))
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return fmt.Errorf("no .c files in %s", src)
	}
	args := append(append([]string{}, cFlags...), "-I", src, "-o", out)
	args = append(args, srcs...)
	cmd := exec.CommandContext(ctx, cc, args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		if perr := ProbeStatic(ctx); perr != nil {
			return perr
		}
		return fmt.Errorf("%s %s: %w\n%s", cc, strings.Join(args, " "), err, msg)
	}
	return nil
}

// ProbeStatic checks that cc exists and can link a static, threaded
// program; its error wraps ErrNoCC or ErrNoStaticLibc.
func ProbeStatic(ctx context.Context) error {
	cc, err := lookCC()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "guests-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(c, []byte("#include <pthread.h>\nint main(void){return 0;}\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, cc, append(append([]string{}, cFlags...), "-o", filepath.Join(dir, "probe"), c)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", ErrNoStaticLibc, bytes.TrimSpace(msg))
	}
	return nil
}

// StormArgs are the storm guest's arguments for perCase of storm per case,
// and the deadline a harness gives the run. The storm runs its three cases
// one after the other; its own deadline and the harness's leave room for
// all three.
func StormArgs(perCase time.Duration) (args []string, timeout time.Duration) {
	guestTimeout := 3*perCase + 30*time.Second
	return []string{"-duration", perCase.String(), "-timeout", guestTimeout.String()}, guestTimeout + time.Minute
}
