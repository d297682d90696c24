package suite

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

// gtestLabel is what select_gtest() stands for: a cc_binary that depends
// on GoogleTest is a test binary.
const gtestLabel = "@com_google_googletest//:gtest"

// testMainLabel is gVisor's gtest main: a cc_binary that links it is a
// test binary too, although it may not name GoogleTest itself (29 of
// master 3c5eee17d's, mq_test and socket_unix_dgram_local_test among
// them).
const testMainLabel = "//test/util:test_main"

// localPrefix is how the BUILD file names its own package's libraries
// besides ":name".
const localPrefix = "//test/syscalls/linux:"

// Target is one test binary of test/syscalls/linux/BUILD.
type Target struct {
	// Name is the cc_binary's name (pipe_test).
	Name string
	// Srcs are its .cc sources and those of the package's own libraries it
	// needs (transitively), relative to test/syscalls/linux.
	Srcs []string
	// Main are the sources of the binary itself.
	Main []string
	// Defines are its and its libraries' defines.
	Defines []string
	// Problem, when set, says why the target cannot be built here (no
	// source for this architecture, a dependency outside test/util).
	Problem string
}

type rule struct {
	kind, name       string
	srcs, deps, defs []string
}

// ParseBuild reads the test binaries of test/syscalls/linux/BUILD (its
// cc_binary rules that depend on GoogleTest or gVisor's test main) for the architecture arch
// ("amd64"), sorted by name.
func ParseBuild(filename string, src []byte, arch string) ([]*Target, error) {
	f, err := build.ParseBuild(filename, src)
	if err != nil {
		return nil, err
	}
	libs := map[string]*rule{}
	var bins []*rule
	for _, r := range f.Rules("") {
		if r.Kind() != "cc_binary" && r.Kind() != "cc_library" {
			continue
		}
		ru := &rule{kind: r.Kind(), name: r.Name()}
		for _, a := range []struct {
			key string
			to  *[]string
		}{{"srcs", &ru.srcs}, {"deps", &ru.deps}, {"defines", &ru.defs}} {
			if e := r.Attr(a.key); e != nil {
				if *a.to, err = eval(e, arch); err != nil {
					return nil, fmt.Errorf("%s: %s %q: %s: %w", filename, ru.kind, ru.name, a.key, err)
				}
			}
		}
		if ru.kind == "cc_library" {
			libs[ru.name] = ru
		} else if contains(ru.deps, gtestLabel) || contains(ru.deps, testMainLabel) {
			bins = append(bins, ru)
		}
	}
	var out []*Target
	for _, b := range bins {
		t := &Target{Name: b.name, Main: ccOnly(b.srcs)}
		seen := map[string]bool{}
		var walk func(r *rule)
		walk = func(r *rule) {
			t.Srcs = append(t.Srcs, ccOnly(r.srcs)...)
			t.Defines = append(t.Defines, r.defs...)
			for _, d := range r.deps {
				name, local := localName(d)
				switch {
				case local && libs[name] == nil:
					t.Problem = "depends on " + d + ", which is not a cc_library of the BUILD file"
				case local && !seen[name]:
					seen[name] = true
					walk(libs[name])
				case !local && strings.HasPrefix(d, "//") && !strings.HasPrefix(d, "//test/util:"):
					t.Problem = "depends on " + d + ", outside test/util"
				}
			}
		}
		walk(b)
		if len(t.Main) == 0 && t.Problem == "" {
			t.Problem = "no source for " + arch
		}
		t.Defines = dedupe(t.Defines)
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// knownIdents are the names gVisor's tools/defs.bzl exports that the
// BUILD file uses as dependencies; the link line has their libraries.
var knownIdents = map[string]string{
	"gbenchmark": "@com_google_benchmark//:benchmark",
	"gtest":      "@com_google_googletest//:gtest",
}

// eval evaluates a BUILD attribute to the strings it lists: string and
// list literals, "+", and gVisor's select_gtest() (GoogleTest, which the
// link line adds), select_arch(...) and select_system(...).
func eval(e build.Expr, arch string) ([]string, error) {
	switch e := e.(type) {
	case *build.StringExpr:
		return []string{e.Value}, nil
	case *build.ListExpr:
		var out []string
		for _, x := range e.List {
			v, err := eval(x, arch)
			if err != nil {
				return nil, err
			}
			out = append(out, v...)
		}
		return out, nil
	case *build.BinaryExpr:
		if e.Op != "+" {
			return nil, fmt.Errorf("operator %q", e.Op)
		}
		l, err := eval(e.X, arch)
		if err != nil {
			return nil, err
		}
		r, err := eval(e.Y, arch)
		return append(l, r...), err
	case *build.Ident:
		if v, ok := knownIdents[e.Name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("unknown name %s", e.Name)
	case *build.CallExpr:
		fn, _ := e.X.(*build.Ident)
		if fn == nil {
			return nil, fmt.Errorf("call of %s", build.FormatString(e.X))
		}
		kw := map[string]build.Expr{}
		for _, a := range e.List {
			if as, ok := a.(*build.AssignExpr); ok {
				if id, ok := as.LHS.(*build.Ident); ok {
					kw[id.Name] = as.RHS
				}
			}
		}
		switch fn.Name {
		case "select_gtest":
			return []string{gtestLabel}, nil
		case "select_arch":
			if v, ok := kw[arch]; ok {
				return eval(v, arch)
			}
			if v, ok := kw["default"]; ok {
				return eval(v, arch)
			}
			return nil, nil
		case "select_system":
			if v, ok := kw["linux"]; ok {
				return eval(v, arch)
			}
			return []string{"__linux__"}, nil
		}
		return nil, fmt.Errorf("unknown function %s", fn.Name)
	}
	return nil, fmt.Errorf("cannot evaluate %s", build.FormatString(e))
}

// localName returns the library name of a label of the package itself.
func localName(label string) (string, bool) {
	switch {
	case strings.HasPrefix(label, ":"):
		return label[1:], true
	case strings.HasPrefix(label, localPrefix):
		return label[len(localPrefix):], true
	}
	return "", false
}

func ccOnly(srcs []string) []string {
	var out []string
	for _, s := range srcs {
		if strings.HasSuffix(s, ".cc") {
			out = append(out, s)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
