package upstream

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/bazelbuild/buildtools/build"
	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// mutexType finds the type a declare_mutex instance declares, and so its
// prefix: "type inodeMutex struct".
var mutexType = regexp.MustCompile(`(?m)^type (\w+)Mutex struct`)

// generatedFiles returns the Go files that the BUILD edits of an upstream
// patch make Bazel generate and that the Go-module snapshots carry checked
// in, keyed by path: for each declare_mutex(out = ...) the patch adds in a
// package under paths, a port of a sibling instance of the same template in
// base, and likewise for each go_template_instance of the refs template
// (pkg/refs). Other generators are refused, so that none is left out
// unnoticed. (The stateify output of what they declare is portStateify's.)
func generatedFiles(files []*gitdiff.File, base string, paths []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, f := range files {
		name := fileName(f)
		if b := path.Base(name); b != "BUILD" && b != "BUILD.bazel" {
			continue
		}
		dir := path.Dir(name)
		if !keepFile(dir+"/x.go", paths) {
			continue
		}
		bf, err := build.ParseBuild(name, addedCalls(f))
		if err != nil {
			return nil, fmt.Errorf("%s: the rules the patch adds are not Starlark on their own: %w", name, err)
		}
		for _, stmt := range bf.Stmt {
			call, ok := stmt.(*build.CallExpr)
			if !ok {
				continue // an edit inside an existing rule: srcs, deps
			}
			r := &build.Rule{Call: call}
			switch r.Kind() {
			case "declare_mutex":
				outName, prefix := r.AttrString("out"), r.AttrString("prefix")
				if outName == "" || prefix == "" || r.Attr("nested_lock_names") != nil {
					return nil, fmt.Errorf("%s: declare_mutex %q: only out and prefix without nested_lock_names can be ported", name, r.Name())
				}
				src, err := portMutex(filepath.Join(base, dir), prefix)
				if err != nil {
					return nil, fmt.Errorf("%s: declare_mutex %q: %w", name, r.Name(), err)
				}
				out[path.Join(dir, outName)] = src
			case "go_template_instance":
				outName, prefix, pkg := r.AttrString("out"), r.AttrString("prefix"), r.AttrString("package")
				if tmpl := r.AttrString("template"); tmpl != refsTemplate {
					return nil, fmt.Errorf("%s: go_template_instance %q of template %q: only %s can be ported", name, r.Name(), tmpl, refsTemplate)
				}
				typ := dictString(r.Attr("types"), "T")
				if outName == "" || prefix == "" || pkg == "" || typ == "" || r.Attr("consts") != nil {
					return nil, fmt.Errorf("%s: go_template_instance %q: only out, package, prefix and types T without consts can be ported", name, r.Name())
				}
				src, err := portRefs(base, dir, pkg, prefix, typ)
				if err != nil {
					return nil, fmt.Errorf("%s: go_template_instance %q: %w", name, r.Name(), err)
				}
				out[path.Join(dir, outName)] = src
			case "go_library", "go_test", "load":
			default:
				return nil, fmt.Errorf("%s: adds %s %q, which derive cannot port to the Go module", name, r.Kind(), r.Name())
			}
		}
	}
	return out, nil
}

// addedCalls returns the top-level calls a BUILD file diff adds whole, as
// one source: each run of added lines from one that opens a call at the
// first column ("declare_mutex(") to the ")" that closes it there. Added
// lines inside an existing rule (a srcs or deps entry) are left out.
func addedCalls(f *gitdiff.File) []byte {
	var b strings.Builder
	for _, frag := range f.TextFragments {
		in := false
		for _, l := range frag.Lines {
			switch {
			case l.Op != gitdiff.OpAdd:
				in = false
			case topCall.MatchString(l.Line):
				b.WriteString(l.Line)
				in = !strings.HasSuffix(strings.TrimSpace(l.Line), ")") // a one-line call is whole
			case in:
				b.WriteString(l.Line)
				in = !strings.HasPrefix(l.Line, ")")
			}
		}
	}
	return []byte(b.String())
}

// topCall matches a line that opens a call at the first column.
var topCall = regexp.MustCompile(`^[A-Za-z_]\w*\(`)

// portMutex makes the declare_mutex instance for prefix from a sibling
// instance in dir that has no nested lock names, renaming its identifiers:
// the template's output differs between instances only in the prefix.
func portMutex(dir, prefix string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*_mutex.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		m := mutexType.FindSubmatch(src)
		if m == nil || !strings.Contains(string(src), "// LOCK_NAME_INDEX_CONSTANTS") {
			continue
		}
		old := regexp.MustCompile(`\b` + regexp.QuoteMeta(string(m[1])) + `(Mutex|prefixIndex|lockNames|lockNameIndex|initLockNames)\b`)
		return old.ReplaceAll(src, []byte(prefix+"$1")), nil
	}
	return nil, fmt.Errorf("no declare_mutex instance without nested lock names in %s to port from", dir)
}

// refsTemplate is the template of reference-counted types.
const refsTemplate = "//pkg/refs:refs_template"

// dictString returns the string value of key in a Starlark dict literal.
func dictString(e build.Expr, key string) string {
	d, ok := e.(*build.DictExpr)
	if !ok {
		return ""
	}
	for _, kv := range d.List {
		k, ok1 := kv.Key.(*build.StringExpr)
		v, ok2 := kv.Value.(*build.StringExpr)
		if ok1 && ok2 && k.Value == key {
			return v.Value
		}
	}
	return ""
}

// refsInstance matches what a refs template instance declares from its
// prefix: "var Sessionobj *Session".
var (
	refsObj  = regexp.MustCompile(`(?m)^var (\w+)obj \*[\w.]+$`)
	refsType = regexp.MustCompile(`(?m)^type (\w+)Refs struct \{$`)
)

// portRefs makes the refs template instance for prefix and type typ in
// package pkg from another instance in the module base: in dir if it has
// one, else the first in the module's pkg tree. The template's output
// differs between instances only in the package, the prefix and T.
func portRefs(base, dir, pkg, prefix, typ string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(base, dir, "*_refs.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var found []byte
	var oldPrefix string
	try := func(n string) error {
		src, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		o, t := refsObj.FindSubmatch(src), refsType.FindSubmatch(src)
		if o != nil && t != nil && string(o[1]) == string(t[1]) && bytes.Contains(src, []byte("enableLogging = false")) {
			found, oldPrefix = src, string(o[1])
		}
		return nil
	}
	for _, n := range names {
		if err := try(n); err != nil || found != nil {
			break
		}
	}
	if found == nil {
		err = filepath.WalkDir(filepath.Join(base, "pkg"), func(n string, d fs.DirEntry, err error) error {
			if err != nil || found != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(n, "_refs.go") {
				return try(n)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no refs template instance in the module to port from")
	}
	src := refsObj.ReplaceAll(found, []byte("var "+prefix+"obj *"+typ))
	src = regexp.MustCompile(`(?m)^package \w+$`).ReplaceAll(src, []byte("package "+pkg))
	old := regexp.MustCompile(`\b` + regexp.QuoteMeta(oldPrefix) + `(enableLogging|obj|Refs)\b`)
	return old.ReplaceAll(src, []byte(prefix+"$1")), nil
}
