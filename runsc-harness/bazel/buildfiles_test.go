package bazel

import (
	"go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

var (
	goRuleRE  = regexp.MustCompile(`(?s)\b(go_library|go_test|go_binary)\((.*?)\n\)`)
	listRE    = regexp.MustCompile(`(?s)\b(srcs|deps)\s*=\s*\[(.*?)\]`)
	importRE  = regexp.MustCompile(`\bimportpath\s*=\s*"([^"]*)"`)
	skipDirRE = regexp.MustCompile(`^(\.|bazel-|out$|third_party$)`)
)

// goRule is one go_library, go_binary or go_test of a BUILD.bazel file.
type goRule struct {
	kind, importpath string
	srcs, deps       []string
}

func parseGoRules(src []byte) []goRule {
	var rules []goRule
	for _, m := range goRuleRE.FindAllStringSubmatch(stripComments(src), -1) {
		r := goRule{kind: m[1]}
		if im := importRE.FindStringSubmatch(m[2]); im != nil {
			r.importpath = im[1]
		}
		for _, l := range listRE.FindAllStringSubmatch(m[2], -1) {
			var vals []string
			for _, s := range stringRE.FindAllStringSubmatch(l[2], -1) {
				vals = append(vals, s[1])
			}
			if l[1] == "srcs" {
				r.srcs = vals
			} else {
				r.deps = vals
			}
		}
		rules = append(rules, r)
	}
	return rules
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
// each import outside the standard library, the go_test its test files. A
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
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", false

	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDirRE.MatchString(d.Name()) {
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
		rules := parseGoRules(src)
		if len(rules) == 0 {
			return nil
		}
		dir := filepath.Dir(p)
		pkg, err := ctx.ImportDir(dir, 0)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			return nil
		}
		rel, _ := filepath.Rel(root, p)
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
