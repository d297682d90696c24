// Package ignore lets the eintrvet passes honour suppression comments.
//
// A finding is suppressed by a directive comment at the end of its line,
// or alone on the line just before it:
//
//	//eintrvet:ignore PASS[,PASS...] REASON
//
// PASS names the pass whose finding it suppresses (intrcompare, unretried,
// threadns) and REASON, required, says why the finding is wrong or
// deliberate. For example:
//
//	//eintrvet:ignore unretried the storm guest must see EINTR, as runc's probe does
//	n, _, err := unix.Recvfrom(fd, nil, flags)
//
// A directive naming a pass but without a reason suppresses nothing and is
// itself reported by that pass, and so is a directive that matches no
// finding of a pass it names (remove it). A directive naming no known pass
// is reported by intrcompare. The directive must start the comment exactly
// as shown (no space after //), as Go directives do.
package ignore

import (
	"go/ast"
	"go/token"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Directive is the comment prefix of a suppression.
const Directive = "//eintrvet:ignore"

// Passes are the pass names a directive may name.
var Passes = []string{"intrcompare", "threadns", "unretried"}

type directive struct {
	pos    token.Pos
	file   string
	line   int // the line it covers
	passes []string
	reason string
	used   bool
}

// Install makes pass drop the diagnostics that a directive naming
// pass.Analyzer suppresses. Call it first in an analyzer's Run and call
// the function it returns when Run is done (defer ignore.Install(pass)()):
// that function reports malformed and unused directives.
func Install(pass *analysis.Pass) (done func()) {
	name := pass.Analyzer.Name
	var dirs []*directive
	for _, f := range pass.Files {
		var code map[int]token.Pos // line -> first node boundary on it
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				rest, ok := strings.CutPrefix(c.Text, Directive)
				if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
					continue
				}
				fields := strings.Fields(rest)
				d := &directive{pos: c.Slash}
				p := pass.Fset.PositionFor(c.Slash, false)
				d.file, d.line = p.Filename, p.Line
				if code == nil {
					code = codeStarts(pass.Fset, f)
				}
				if start, ok := code[p.Line]; !ok || start > c.Slash {
					d.line++ // alone on its line: it covers the next one
				}
				if len(fields) > 0 {
					d.passes = strings.Split(fields[0], ",")
					d.reason = strings.Join(fields[1:], " ")
				}
				dirs = append(dirs, d)
			}
		}
	}
	report := pass.Report
	pass.Report = func(diag analysis.Diagnostic) {
		p := pass.Fset.PositionFor(diag.Pos, false)
		for _, d := range dirs {
			if d.reason != "" && slices.Contains(d.passes, name) && d.file == p.Filename && p.Line == d.line {
				d.used = true
				return
			}
		}
		report(diag)
	}
	return func() {
		pass.Report = report
		for _, d := range dirs {
			known := slices.ContainsFunc(d.passes, func(p string) bool { return slices.Contains(Passes, p) })
			switch {
			case !known && name == Passes[0]:
				pass.Reportf(d.pos, "%s names no eintrvet pass (want %s: %s PASS[,PASS] REASON)", Directive, strings.Join(Passes, ", "), Directive)
			case !slices.Contains(d.passes, name):
			case d.reason == "":
				pass.Reportf(d.pos, "%s %s has no reason, so it suppresses nothing: say why the finding is wrong or deliberate", Directive, strings.Join(d.passes, ","))
			case !d.used:
				pass.Reportf(d.pos, "%s: no %s finding on the line it covers; remove %s from it", Directive, name, name)
			}
		}
	}
}

// codeStarts maps each line of f to the first position on it where a
// syntax node starts or ends.
func codeStarts(fset *token.FileSet, f *ast.File) map[int]token.Pos {
	m := map[int]token.Pos{}
	mark := func(p token.Pos) {
		if !p.IsValid() {
			return
		}
		l := fset.PositionFor(p, false).Line
		if old, ok := m[l]; !ok || p < old {
			m[l] = p
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n.(type) {
		case nil, *ast.Comment, *ast.CommentGroup:
			return false
		}
		mark(n.Pos())
		mark(n.End() - 1)
		return true
	})
	return m
}
