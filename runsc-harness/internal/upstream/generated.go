package upstream

import (
	"fmt"
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
// base. Other generators are refused, so that none is left out unnoticed.
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
