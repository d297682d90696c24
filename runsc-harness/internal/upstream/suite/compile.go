package suite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// cxxFlags compile every source: gVisor's tests are C++17.
var cxxFlags = []string{"-std=c++17", "-O1", "-g0", "-w", "-pthread"}

// fixups are compile-time workarounds for the Debian libraries, applied
// to a copy of the source in the work directory, never to the checkout.
// Debian builds Abseil with ABSL_OPTION_USE_STD_STRING_VIEW 0, so
// absl::StrSplit does not convert to a vector of std::string_view.
var fixups = map[string][][2]string{
	"test/util/mount_util.cc": {{
		"std::vector<std::string_view> tags = absl::StrSplit(e.optional, ' ');",
		"std::vector<std::string> tags = absl::StrSplit(e.optional, ' ');",
	}},
}

// Compiler compiles sources of a gVisor checkout into objects and test
// binaries, cached by content in Dir.
type Compiler struct {
	// Src is the checkout; Dir the cache of objects and binaries.
	Src, Dir string
	// Jobs bounds the g++ processes running at once.
	Jobs int
	// Log receives progress.
	Log io.Writer

	once    sync.Once
	sem     chan struct{}
	mu      sync.Mutex
	pending map[string]*objCall
	key     string
	keyErr  error
}

type objCall struct {
	done chan struct{}
	obj  string
	err  error
}

// CompileError is a source or link step that failed; First is its first
// error line.
type CompileError struct {
	Step, First, Output string
}

func (e *CompileError) Error() string { return e.Step + ": " + e.First }

func (c *Compiler) init() {
	c.once.Do(func() {
		jobs := c.Jobs
		if jobs < 1 {
			jobs = 1
		}
		c.sem = make(chan struct{}, jobs)
		c.pending = map[string]*objCall{}
		c.key, c.keyErr = c.headerKey()
	})
}

// headerKey hashes the compiler's version and every header of test/util
// and test/syscalls/linux, so that a cached object is reused only with the
// same headers.
func (c *Compiler) headerKey() (string, error) {
	h := sha256.New()
	v, err := exec.Command("g++", "-dumpfullversion").Output()
	if err != nil {
		return "", fmt.Errorf("g++ -dumpfullversion: %w", err)
	}
	fmt.Fprintf(h, "%s %q\n", bytes.TrimSpace(v), cxxFlags)
	for _, d := range []string{"test/util", "test/syscalls/linux"} {
		hs, err := filepath.Glob(filepath.Join(c.Src, d, "*.h"))
		if err != nil {
			return "", err
		}
		sort.Strings(hs)
		for _, p := range hs {
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", p, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Object compiles the checkout's source rel with defines into an object
// and returns its path; a failure is a *CompileError, remembered in the
// cache so that the next run does not compile the source again.
func (c *Compiler) Object(ctx context.Context, rel string, defines []string) (string, error) {
	c.init()
	if c.keyErr != nil {
		return "", c.keyErr
	}
	src, err := os.ReadFile(filepath.Join(c.Src, rel))
	if err != nil {
		return "", err
	}
	src, fixed := applyFixups(rel, src)
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %q\n", c.key, rel, defines)
	h.Write(src)
	key := hex.EncodeToString(h.Sum(nil))[:24]
	c.mu.Lock()
	if p, ok := c.pending[key]; ok {
		c.mu.Unlock()
		<-p.done
		return p.obj, p.err
	}
	p := &objCall{done: make(chan struct{})}
	c.pending[key] = p
	c.mu.Unlock()
	p.obj, p.err = c.compileObject(ctx, rel, src, fixed, defines, key)
	if p.err != nil && ctx.Err() != nil {
		c.mu.Lock()
		delete(c.pending, key) // a cancelled compile is not a result
		c.mu.Unlock()
	}
	close(p.done)
	return p.obj, p.err
}

func (c *Compiler) compileObject(ctx context.Context, rel string, src []byte, fixed bool, defines []string, key string) (string, error) {
	dir := filepath.Join(c.Dir, "obj")
	obj := filepath.Join(dir, key+".o")
	if _, err := os.Stat(obj); err == nil {
		return obj, nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, key+".err")); err == nil {
		out := string(b)
		return "", &CompileError{Step: "compile " + rel, First: firstError(out, c.Src), Output: out}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	input := filepath.Join(c.Src, rel)
	if fixed {
		input = filepath.Join(dir, fmt.Sprintf("%s-%d-%s", key, os.Getpid(), filepath.Base(rel)))
		if err := os.WriteFile(input, src, 0o644); err != nil {
			return "", err
		}
		defer os.Remove(input)
	}
	// The temporary name is this process's: another run may compile the
	// same source into the same cache at the same time.
	tmp := fmt.Sprintf("%s.%d.tmp", obj, os.Getpid())
	args := append(append([]string{}, cxxFlags...), "-I", c.Src, "-c", input, "-o", tmp)
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	if out, err := c.gxx(ctx, "g++ -c "+rel, args); err != nil {
		os.Remove(tmp)
		if ctx.Err() == nil {
			_ = os.WriteFile(filepath.Join(dir, key+".err"), []byte(out), 0o644)
		}
		return "", &CompileError{Step: "compile " + rel, First: firstError(out, c.Src), Output: out}
	}
	return obj, os.Rename(tmp, obj)
}

// gxx says label on the log and runs g++ niced, at most Jobs at once, in its own process group,
// which is killed if ctx ends.
func (c *Compiler) gxx(ctx context.Context, label string, args []string) (string, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.sem }()
	fmt.Fprintln(c.Log, label)
	cmd := exec.CommandContext(ctx, "nice", append([]string{"-n", "10", "g++"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		return out.String(), ctx.Err()
	}
	return out.String(), err
}

// applyFixups returns src with the fixups of rel applied, and whether
// any applied.
func applyFixups(rel string, src []byte) ([]byte, bool) {
	fixed := false
	for _, f := range fixups[rel] {
		if bytes.Contains(src, []byte(f[0])) {
			src = bytes.ReplaceAll(src, []byte(f[0]), []byte(f[1]))
			fixed = true
		}
	}
	return src, fixed
}

// firstError returns the first line of compiler or linker output that
// says what is wrong (paths made relative to the checkout; not collect2's
// summary), or its first line.
func firstError(out, src string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.Contains(l, "undefined reference") || strings.Contains(l, "multiple definition") || (strings.Contains(l, "error:") && !strings.HasPrefix(l, "collect2:")) {
			return strings.TrimSpace(strings.ReplaceAll(l, src+"/", ""))
		}
	}
	if len(lines) > 0 {
		return strings.ReplaceAll(lines[0], src+"/", "")
	}
	return "failed without output"
}

// errorsAs is errors.As for *CompileError.
func asCompileError(err error) (*CompileError, bool) {
	var ce *CompileError
	ok := errors.As(err, &ce)
	return ce, ok
}
