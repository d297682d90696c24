package bazel

import (
	"fmt"
	gobuild "go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bazelbuild/buildtools/build"
	"golang.org/x/mod/modfile"
)

// skipDir reports whether the walk over the repository leaves out the
// directory name: hidden ones, Bazel's output symlinks, out/ and
// third_party/.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "bazel-") || name == "out" || name == "third_party"
}

// goKinds are the rules TestBuildFilesMatchGo checks.
var goKinds = []string{"go_library", "go_test", "go_binary"}

// goRule is one go_library, go_binary or go_test of a BUILD.bazel file.
type goRule struct {
	kind, name, importpath string
	srcs, deps             []string
}

// parseGoRules reads the go_library, go_test and go_binary rules of a
// BUILD.bazel file, in file order. srcs and deps must be lists of string
// literals when present: a glob or a concatenation would be read as
// empty, so it is an error.
func parseGoRules(filename string, src []byte) ([]goRule, error) {
	f, err := build.ParseBuild(filename, src)
	if err != nil {
		return nil, err
	}
	var rules []goRule
	for _, r := range f.Rules("") {
		if !slices.Contains(goKinds, r.Kind()) {
			continue
		}
		g := goRule{kind: r.Kind(), name: r.Name(), importpath: r.AttrString("importpath")}
		for _, a := range []struct {
			key string
			to  *[]string
		}{{"srcs", &g.srcs}, {"deps", &g.deps}} {
			if r.Attr(a.key) == nil {
				continue
			}
			if *a.to = r.AttrStrings(a.key); *a.to == nil {
				return nil, fmt.Errorf("%s: %s %q: %s is not a list of string literals", filename, g.kind, g.name, a.key)
			}
		}
		rules = append(rules, g)
	}
	return rules, nil
}

// canonical writes a label in full: //a/b is //a/b:b.
func canonical(l string) string {
	if strings.Contains(l, ":") {
		return l
	}
	return l + ":" + path.Base(l)
}

// TestBuildFilesMatchGo checks that the hand-written BUILD.bazel files
// still describe the Go packages they build: the go_library (or go_binary
// without one) lists exactly the package's Go files and a dependency for
// each import outside the standard library, the go_test its test files,
// and the go_library's importpath is the package's import path. A
// file added by "go test"'s users would otherwise break only the Bazel
// build. It reads the sources, so it runs under go test, not bazel test.
func TestBuildFilesMatchGo(t *testing.T) {
	if os.Getenv("TEST_SRCDIR") != "" {
		t.Skip("under bazel test the sources are not in the runfiles; go test runs this check")
	}
	mf, err := modfile.Parse("go.mod", readRoot(t, "go.mod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	modPath := mf.Module.Mod.Path
	var requires []string
	for _, r := range mf.Require {
		requires = append(requires, r.Mod.Path)
	}
	labelOf := func(imp string) string {
		if imp == modPath || strings.HasPrefix(imp, modPath+"/") {
			return canonical("//" + strings.TrimPrefix(strings.TrimPrefix(imp, modPath), "/"))
		}
		best := ""
		for _, m := range requires {
			if (imp == m || strings.HasPrefix(imp, m+"/")) && len(m) > len(best) {
				best = m
			}
		}
		if best == "" {
			return "(no module in go.mod for " + imp + ")"
		}
		return Label(best, imp)
	}
	ctx := gobuild.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", false

	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "BUILD.bazel" {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rules, err := parseGoRules(rel, src)
		if err != nil {
			t.Error(err)
			return nil
		}
		if len(rules) == 0 {
			return nil
		}
		dir := filepath.Dir(p)
		pkg, err := ctx.ImportDir(dir, 0)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			return nil
		}
		hasLib := slices.ContainsFunc(rules, func(r goRule) bool { return r.kind == "go_library" })
		for _, r := range rules {
			var wantSrcs, imports []string
			switch {
			case r.kind == "go_test":
				wantSrcs = append(append(wantSrcs, pkg.TestGoFiles...), pkg.XTestGoFiles...)
			case r.kind == "go_library" || !hasLib && len(r.srcs) > 0:
				wantSrcs, imports = pkg.GoFiles, pkg.Imports
			default:
				continue // a go_binary embedding the library
			}
			got := slices.Clone(r.srcs)
			sort.Strings(got)
			sort.Strings(wantSrcs)
			if !slices.Equal(got, wantSrcs) {
				t.Errorf("%s %s srcs = %q, want %q (the package's Go files)", rel, r.kind, got, wantSrcs)
			}
			if r.kind == "go_test" {
				continue
			}
			if r.kind == "go_library" {
				relDir, _ := filepath.Rel(root, dir)
				if want := path.Join(modPath, filepath.ToSlash(relDir)); r.importpath != want {
					t.Errorf("%s %s importpath = %q, want %q", rel, r.kind, r.importpath, want)
				}
			}
			deps := map[string]bool{}
			for _, d := range r.deps {
				deps[canonical(d)] = true
			}
			for _, imp := range imports {
				if !strings.Contains(strings.Split(imp, "/")[0], ".") {
					continue // standard library
				}
				if l := labelOf(imp); !deps[l] {
					t.Errorf("%s %s imports %s: deps lack %s", rel, r.kind, imp, l)
				}
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Error("no go_library found: is root right?")
	}
}
