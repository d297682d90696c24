package upstream

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

var (
	// goTestFunc matches the declaration of a Go test function.
	goTestFunc = regexp.MustCompile(`^func (Test\w+)\(\w+ \*testing\.T\)`)
	// topLevel matches the start of another top-level declaration.
	topLevel = regexp.MustCompile(`^(func|type|var|const) `)
)

// GoTests returns the Go test functions a patch adds or changes, by
// package directory: the test functions declared on added lines of its
// _test.go files, and those whose body an added line is in.
func GoTests(patch []byte) (map[string][]string, error) {
	files, _, err := gitdiff.Parse(bytes.NewReader(patch))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, f := range files {
		if !strings.HasSuffix(f.NewName, "_test.go") {
			continue
		}
		seen := map[string]bool{}
		for _, frag := range f.TextFragments {
			// The test a fragment starts in is named in its header
			// ("@@ ... @@ func TestX(t *testing.T) {") when git found
			// one.
			current := ""
			if m := goTestFunc.FindStringSubmatch(frag.Comment); m != nil {
				current = m[1]
			}
			for _, l := range frag.Lines {
				if m := goTestFunc.FindStringSubmatch(l.Line); m != nil {
					current = m[1]
				} else if topLevel.MatchString(l.Line) {
					current = ""
				}
				if l.Op == gitdiff.OpAdd && current != "" && !seen[current] {
					seen[current] = true
					dir := path.Dir(f.NewName)
					out[dir] = append(out[dir], current)
				}
				if strings.HasPrefix(l.Line, "}") {
					current = "" // the closing brace of a top-level block
				}
			}
		}
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out, nil
}

// FormatGoTests renders GoTests' result on one line, packages in order:
// "pkg/a: TestX, TestY; pkg/b: TestZ".
func FormatGoTests(tests map[string][]string) string {
	dirs := make([]string, 0, len(tests))
	for d := range tests {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	parts := make([]string, 0, len(dirs))
	for _, d := range dirs {
		parts = append(parts, fmt.Sprintf("`%s`: %s", d, strings.Join(tests[d], ", ")))
	}
	return strings.Join(parts, "; ")
}
