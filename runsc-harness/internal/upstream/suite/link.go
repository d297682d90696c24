package suite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Util is the checkout's test/util, compiled.
type Util struct {
	// Archive holds every test/util source that compiled, test_main.cc's
	// main() included (the linker takes it only for a test without a main
	// of its own), but Malloc: errno_safe_allocator.cc, gVisor's malloc
	// for every test, which every binary links as an object.
	Archive, Malloc string
	// Errors are the sources that did not compile, with their first error
	// line; a test that needs one fails to link.
	Errors map[string]string
}

// utilLeftOut says which test/util sources are not part of the library:
// its own tests, Fuchsia's, and test_util_runfiles.cc, which needs
// Bazel's runfiles library (the few tests that call RunfilePath fail to
// link and are reported).
func utilLeftOut(name string) bool {
	return strings.HasSuffix(name, "_test.cc") || strings.HasPrefix(name, "fuchsia_") || name == "test_util_runfiles.cc"
}

// Util compiles test/util once (cached) and archives it.
func (c *Compiler) Util(ctx context.Context) (*Util, error) {
	srcs, err := filepath.Glob(filepath.Join(c.Src, "test", "util", "*.cc"))
	if err != nil {
		return nil, err
	}
	u := &Util{Errors: map[string]string{}}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		objs []string
		ferr error
	)
	for _, p := range srcs {
		name := filepath.Base(p)
		if utilLeftOut(name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel := "test/util/" + name
			obj, err := c.Object(ctx, rel, []string{"__linux__"})
			mu.Lock()
			defer mu.Unlock()
			ce, isCE := asCompileError(err)
			switch {
			case err != nil && !isCE:
				ferr = err
			case err != nil:
				u.Errors[rel] = ce.First
			case name == "errno_safe_allocator.cc":
				u.Malloc = obj
			default:
				objs = append(objs, obj)
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		return nil, ferr
	}
	if u.Malloc == "" || u.Errors["test/util/test_main.cc"] != "" {
		return nil, fmt.Errorf("test/util/test_main.cc or errno_safe_allocator.cc did not compile: %v", u.Errors)
	}
	sort.Strings(objs)
	h := sha256.Sum256([]byte(strings.Join(objs, "\n")))
	u.Archive = filepath.Join(c.Dir, "lib", "libgvutil-"+hex.EncodeToString(h[:])[:16]+".a")
	if _, err := os.Stat(u.Archive); err == nil {
		return u, nil
	}
	if err := os.MkdirAll(filepath.Dir(u.Archive), 0o755); err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", u.Archive, os.Getpid())
	os.Remove(tmp)
	if out, err := exec.CommandContext(ctx, "ar", append([]string{"rcs", tmp}, objs...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ar: %v: %s", err, out)
	}
	return u, os.Rename(tmp, u.Archive)
}

// linkLibs are the libraries every test binary links: GoogleTest and
// GoogleMock (static in Debian), Google Benchmark and every Abseil library
// (shared; --as-needed keeps the ones used).
func linkLibs() []string {
	libs := []string{"-Wl,--as-needed", "-lgmock", "-lgtest", "-lbenchmark"}
	seen := map[string]bool{}
	for _, pat := range []string{"/usr/lib/*/libabsl_*.so", "/usr/lib/libabsl_*.so"} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			l := "-l" + strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "lib"), ".so")
			if !seen[l] {
				seen[l] = true
				libs = append(libs, l)
			}
		}
	}
	sort.Strings(libs[4:])
	return append(libs, "-pthread")
}

// Binary compiles and links the test binary of t and returns its path; a
// source that does not compile or a failed link is a *CompileError.
func (c *Compiler) Binary(ctx context.Context, t *Target, u *Util) (string, error) {
	if t.Problem != "" {
		return "", &CompileError{Step: "BUILD", First: t.Problem}
	}
	var objs []string
	for _, s := range t.Srcs {
		obj, err := c.Object(ctx, "test/syscalls/linux/"+s, t.Defines)
		if err != nil {
			return "", err
		}
		objs = append(objs, obj)
	}
	objs = append(objs, u.Malloc, u.Archive)
	args := append(append([]string{}, objs...), linkLibs()...)
	h := sha256.Sum256([]byte(strings.Join(args, "\n")))
	bin := filepath.Join(c.Dir, "bin", t.Name+"-"+hex.EncodeToString(h[:])[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if b, err := os.ReadFile(bin + ".err"); err == nil {
		return "", &CompileError{Step: "link " + t.Name, First: firstError(string(b), c.Src), Output: string(b)}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	out, err := c.gxx(ctx, "g++ -o "+t.Name, append([]string{"-o", tmp}, args...))
	if err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		_ = os.WriteFile(bin+".err", []byte(out), 0o644)
		return "", &CompileError{Step: "link " + t.Name, First: firstError(out, c.Src), Output: out}
	}
	return bin, os.Rename(tmp, bin)
}
