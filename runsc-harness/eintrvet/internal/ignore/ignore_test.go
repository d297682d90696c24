package ignore

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis"
)

const src = `package p

func bad() {}

func f() {
	//eintrvet:ignore unretried the line after the directive
	bad()
	bad() //eintrvet:ignore unretried,threadns on the directive's own line
	bad() //eintrvet:ignore threadns another pass
	//eintrvet:ignore unretried
	bad()
	//eintrvet:ignore unretried nothing below
	//eintrvet:ignore unretrid typo
	bad()
	//eintrvet:ignoreunretried not a directive
	bad()
	// eintrvet:ignore unretried not a directive either (space after //)
	bad()
}
`

// check runs a fake analyzer called name, which reports every call of bad,
// with Install, and returns its diagnostics as "line: message".
func check(t *testing.T, name string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	pass := &analysis.Pass{
		Analyzer: &analysis.Analyzer{Name: name},
		Fset:     fset,
		Files:    []*ast.File{f},
	}
	pass.Report = func(d analysis.Diagnostic) {
		got = append(got, fmt.Sprintf("%d: %s", fset.Position(d.Pos).Line, d.Message))
	}
	done := Install(pass)
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			pass.Reportf(c.Pos(), "call of bad")
		}
		return true
	})
	done()
	return got
}

func TestInstall(t *testing.T) {
	tests := []struct {
		pass string
		want []string
	}{
		{"unretried", []string{
			"9: call of bad",  // the directive names threadns only
			"11: call of bad", // the directive has no reason
			"14: call of bad", // the directive right above names a typo
			"16: call of bad", // not a directive
			"18: call of bad", // not a directive
			"10: //eintrvet:ignore unretried has no reason, so it suppresses nothing: say why the finding is wrong or deliberate",
			"12: //eintrvet:ignore: no unretried finding on the line it covers; remove unretried from it",
		}},
		{"threadns", []string{
			"7: call of bad", "11: call of bad", "14: call of bad", "16: call of bad", "18: call of bad",
		}},
		{"intrcompare", []string{
			"7: call of bad", "8: call of bad", "9: call of bad", "11: call of bad", "14: call of bad", "16: call of bad", "18: call of bad",
			"13: //eintrvet:ignore names no eintrvet pass (want intrcompare, threadns, unretried: //eintrvet:ignore PASS[,PASS] REASON)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.pass, func(t *testing.T) {
			got := check(t, tc.pass)
			if !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
