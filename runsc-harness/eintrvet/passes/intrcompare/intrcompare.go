// Package intrcompare defines an Analyzer that reports identity comparisons
// of interrupt errors.
//
// # Analyzer intrcompare
//
// intrcompare: report ==, != and switch-case comparisons against an
// interrupt error value whose other operand is an interface.
//
// The interrupt values are, matched by object identity (package path and
// name, so unqualified uses inside the defining package count too):
//
//	gvisor.dev/gvisor/pkg/errors/linuxerr.ErrInterrupted
//	gvisor.dev/gvisor/pkg/errors/linuxerr.EINTR
//	golang.org/x/sys/unix.EINTR
//	syscall.EINTR
//
// A comparison is reported when one operand (after removing parentheses) is
// one of these values and the static type of the other operand is an
// interface type (error, any, ...; type parameters are not counted). Such an
// interface may hold another representation of the same errno (gVisor's
// *errors.Error vs unix.Errno) or a wrapped error, so identity comparison
// misses it. This is the bug in gVisor's linuxerr.ConvertIntr
// (`err == ErrInterrupted`, fixed upstream by `Equals(ErrInterrupted, err)`):
// an interrupt that came back as unix.EINTR was not converted to
// ERESTARTSYS and leaked to the application as EINTR.
//
// Not reported: comparisons whose other operand has a concrete type (for
// example a unix.Errno from unix.Syscall compared with unix.EINTR is
// correct); comparisons whose other operand is a local variable (declared in
// the enclosing function, address never taken) every assignment of which is
// the error result of a direct golang.org/x/sys/unix or syscall call
// (`n, err := unix.Read(...); if err == unix.EINTR`): those functions return
// nil or a bare syscall.Errno, so identity is exact; switch statements on a concrete-typed tag; map lookups keyed by
// error identity (linuxerr's errorMap); and the body of
// linuxerr.Equals itself, which implements equality. (Equals compares its
// parameters, `e == err || unixErr == err`, never a named interrupt value,
// so the rule above would not report it anyway; the exemption is explicit so
// a future implementation that names EINTR is not reported either.)
//
// Suggested replacement: in gVisor code (the file imports linuxerr, or the
// package is linuxerr) `linuxerr.Equals(V, x)`, where V is the original
// linuxerr value, or linuxerr.EINTR when the original was unix.EINTR or
// syscall.EINTR (Equals also matches the host unix.Errno form). Elsewhere
// `errors.Is(x, V)`. For plain == and != binary expressions whose other
// operand is assignable to error a SuggestedFix is attached (`!=` becomes a
// negated call); the fix adds an "errors" import when the file has none and
// the name is free at file scope and at the comparison, and is omitted when
// the needed name is shadowed. switch cases get no fix.
package intrcompare

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"strconv"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/restartsys/restartsys/runsc-harness/eintrvet/internal/ignore"
	"github.com/restartsys/restartsys/runsc-harness/eintrvet/internal/intr"
)

// Analyzer reports identity comparisons of interrupt errors against
// interface-typed operands. It has no flags and uses no facts.
var Analyzer = &analysis.Analyzer{
	Name:     "intrcompare",
	Doc:      "report identity comparisons (==, !=, switch case) of interface-typed errors against EINTR/ErrInterrupted",
	URL:      "https://pkg.go.dev/github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/intrcompare",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	defer ignore.Install(pass)()
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	inLinuxerr := intr.PkgPath(pass.Pkg) == intr.LinuxerrPath

	for cur := range insp.Root().Preorder((*ast.BinaryExpr)(nil), (*ast.SwitchStmt)(nil)) {
		if inLinuxerr && insideEquals(cur) {
			continue
		}
		switch n := cur.Node().(type) {
		case *ast.BinaryExpr:
			if n.Op != token.EQL && n.Op != token.NEQ {
				continue
			}
			var val, other ast.Expr
			switch {
			case intr.IsInterruptExpr(pass.TypesInfo, n.Y) && isIface(pass.TypesInfo.TypeOf(n.X)):
				val, other = n.Y, n.X
			case intr.IsInterruptExpr(pass.TypesInfo, n.X) && isIface(pass.TypesInfo.TypeOf(n.Y)):
				val, other = n.X, n.Y
			default:
				continue
			}
			if bareErrno(pass, cur, other) {
				continue
			}
			file := enclosingFile(cur)
			d := analysis.Diagnostic{
				Pos:     n.Pos(),
				End:     n.End(),
				Message: message(pass, file, val, other),
			}
			if fix, ok := suggest(pass, file, n, val, other); ok {
				d.SuggestedFixes = []analysis.SuggestedFix{fix}
			}
			pass.Report(d)
		case *ast.SwitchStmt:
			if n.Tag == nil || !isIface(pass.TypesInfo.TypeOf(n.Tag)) || bareErrno(pass, cur, n.Tag) {
				continue
			}
			file := enclosingFile(cur)
			for _, stmt := range n.Body.List {
				cc, ok := stmt.(*ast.CaseClause)
				if !ok {
					continue
				}
				for _, e := range cc.List {
					if intr.IsInterruptExpr(pass.TypesInfo, e) {
						pass.Report(analysis.Diagnostic{
							Pos:     e.Pos(),
							End:     e.End(),
							Message: "switch case " + message(pass, file, e, n.Tag),
						})
					}
				}
			}
		}
	}
	return nil, nil
}

// bareErrno reports whether e is a local variable of the function enclosing
// cur whose every assignment is the error result of a direct call of a
// golang.org/x/sys/unix or syscall function. Those return nil or a bare
// syscall.Errno, never a wrapped error or another representation, so the
// identity comparison is exact.
func bareErrno(pass *analysis.Pass, cur inspector.Cursor, e ast.Expr) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return false
	}
	v, ok := pass.TypesInfo.Uses[id].(*types.Var)
	if !ok || v.IsField() {
		return false
	}
	var body *ast.BlockStmt
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		switch f := c.Node().(type) {
		case *ast.FuncDecl:
			body = f.Body
		case *ast.FuncLit:
			body = f.Body
		}
		break
	}
	if body == nil || v.Pos() < body.Pos() || v.Pos() >= body.End() {
		return false // parameter, result, or declared outside this function
	}
	isV := func(e ast.Expr) bool {
		id, ok := ast.Unparen(e).(*ast.Ident)
		return ok && (pass.TypesInfo.Defs[id] == v || pass.TypesInfo.Uses[id] == v)
	}
	fromSyscall := func(rhs ast.Expr, idx, n int) bool {
		call, ok := ast.Unparen(rhs).(*ast.CallExpr)
		if !ok || idx != n-1 {
			return false
		}
		fn := intr.Callee(pass.TypesInfo, call)
		return fn != nil && intr.IsSyscallFunc(fn, fn.Name())
	}
	ok, assigned := true, false
	ast.Inspect(body, func(n ast.Node) bool {
		if !ok {
			return false
		}
		switch n := n.(type) {
		case *ast.UnaryExpr:
			if n.Op == token.AND && isV(n.X) {
				ok = false // address taken
			}
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if !isV(l) {
					continue
				}
				assigned = true
				if len(n.Rhs) != 1 || n.Tok != token.ASSIGN && n.Tok != token.DEFINE || !fromSyscall(n.Rhs[0], i, len(n.Lhs)) {
					ok = false
				}
			}
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if !isV(name) {
					continue
				}
				if len(n.Values) == 0 {
					continue // zero value nil
				}
				assigned = true
				if len(n.Values) != 1 || !fromSyscall(n.Values[0], i, len(n.Names)) {
					ok = false
				}
			}
		case *ast.RangeStmt:
			if (n.Key != nil && isV(n.Key)) || (n.Value != nil && isV(n.Value)) {
				ok = false
			}
		}
		return ok
	})
	return ok && assigned
}

// isIface reports whether t is an interface type (but not a type parameter).
func isIface(t types.Type) bool {
	if t == nil {
		return false
	}
	if _, ok := t.(*types.TypeParam); ok {
		return false
	}
	return types.IsInterface(t)
}

// insideEquals reports whether cur is inside the declaration of func Equals
// (linuxerr's equality implementation).
func insideEquals(cur inspector.Cursor) bool {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil)) {
		fd := c.Node().(*ast.FuncDecl)
		return fd.Recv == nil && fd.Name.Name == "Equals"
	}
	return false
}

func enclosingFile(cur inspector.Cursor) *ast.File {
	for c := range cur.Enclosing((*ast.File)(nil)) {
		return c.Node().(*ast.File)
	}
	return nil
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, e); err != nil {
		return types.ExprString(e)
	}
	return buf.String()
}

// linuxerrQualifier returns the qualifier ("linuxerr." or "" inside the
// package) under which linuxerr's names are visible at pos in file, and
// whether linuxerr is usable there at all.
func linuxerrQualifier(pass *analysis.Pass, file *ast.File, pos token.Pos) (string, bool) {
	if intr.PkgPath(pass.Pkg) == intr.LinuxerrPath {
		_, obj := scopeAt(pass, pos).LookupParent("Equals", pos)
		return "", intr.Is(obj, intr.LinuxerrPath, "Equals")
	}
	if file == nil {
		return "", false
	}
	for _, spec := range file.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil || p != intr.LinuxerrPath {
			continue
		}
		name := "linuxerr"
		if spec.Name != nil {
			name = spec.Name.Name
		}
		if name == "_" || name == "." {
			return "", false
		}
		_, obj := scopeAt(pass, pos).LookupParent(name, pos)
		if pn, ok := obj.(*types.PkgName); ok && intr.PkgPath(pn.Imported()) == intr.LinuxerrPath {
			return name + ".", true
		}
		return "", false
	}
	return "", false
}

func scopeAt(pass *analysis.Pass, pos token.Pos) *types.Scope {
	if s := pass.Pkg.Scope().Innermost(pos); s != nil {
		return s
	}
	return pass.Pkg.Scope()
}

func message(pass *analysis.Pass, file *ast.File, val, other ast.Expr) string {
	v := exprString(pass.Fset, val)
	o := exprString(pass.Fset, other)
	t := pass.TypesInfo.TypeOf(other)
	if q, ok := linuxerrQualifier(pass, file, val.Pos()); ok {
		return fmt.Sprintf("identity comparison of %s (type %s) with %s misses other representations of EINTR; use %s",
			o, t, v, equalsCall(pass, q, val, o))
	}
	return fmt.Sprintf("identity comparison of %s (type %s) with %s misses wrapped errors; use errors.Is(%s, %s)",
		o, t, v, o, v)
}

// equalsCall renders the linuxerr.Equals replacement for comparing other
// with the interrupt value val.
func equalsCall(pass *analysis.Pass, q string, val ast.Expr, other string) string {
	target := q + "EINTR"
	if obj := intr.ObjectOf(pass.TypesInfo, val); intr.PkgPath(obj.Pkg()) == intr.LinuxerrPath {
		target = exprString(pass.Fset, val)
	}
	return fmt.Sprintf("%sEquals(%s, %s)", q, target, other)
}

func suggest(pass *analysis.Pass, file *ast.File, be *ast.BinaryExpr, val, other ast.Expr) (analysis.SuggestedFix, bool) {
	// Both replacements take an error: no fix for other interface types.
	errType := types.Universe.Lookup("error").Type()
	if file == nil || !types.AssignableTo(pass.TypesInfo.TypeOf(other), errType) {
		return analysis.SuggestedFix{}, false
	}
	neg := ""
	if be.Op == token.NEQ {
		neg = "!"
	}
	o := exprString(pass.Fset, other)
	var edits []analysis.TextEdit
	var repl string
	if q, ok := linuxerrQualifier(pass, file, be.Pos()); ok {
		repl = neg + equalsCall(pass, q, val, o)
	} else {
		name, importEdit, ok := errorsName(pass, file, be.Pos())
		if !ok {
			return analysis.SuggestedFix{}, false
		}
		if importEdit != nil {
			edits = append(edits, *importEdit)
		}
		repl = fmt.Sprintf("%s%s.Is(%s, %s)", neg, name, o, exprString(pass.Fset, val))
	}
	edits = append(edits, analysis.TextEdit{Pos: be.Pos(), End: be.End(), NewText: []byte(repl)})
	return analysis.SuggestedFix{
		Message:   "replace identity comparison with " + repl,
		TextEdits: edits,
	}, true
}

// errorsName returns the name under which the standard "errors" package is
// visible at pos, or "errors" plus an edit that imports it when the file has
// no such import and the name "errors" is free at pos.
func errorsName(pass *analysis.Pass, file *ast.File, pos token.Pos) (string, *analysis.TextEdit, bool) {
	for _, spec := range file.Imports {
		if p, _ := strconv.Unquote(spec.Path.Value); p != "errors" {
			continue
		}
		name := "errors"
		if spec.Name != nil {
			name = spec.Name.Name
		}
		if name == "_" || name == "." {
			return "", nil, false
		}
		_, obj := scopeAt(pass, pos).LookupParent(name, pos)
		if pn, ok := obj.(*types.PkgName); ok && pn.Imported().Path() == "errors" {
			return name, nil, true
		}
		return "", nil, false
	}
	// Not imported: the name must be free both at pos and at file scope.
	if _, obj := scopeAt(pass, pos).LookupParent("errors", pos); obj != nil {
		return "", nil, false
	}
	if fs := pass.TypesInfo.Scopes[file]; fs != nil && fs.Lookup("errors") != nil {
		return "", nil, false
	}
	return "errors", importEdit(file), true
}

// importEdit returns an edit adding `import "errors"` to file.
func importEdit(file *ast.File) *analysis.TextEdit {
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			break
		}
		if gd.Lparen.IsValid() && len(gd.Specs) > 0 {
			return &analysis.TextEdit{Pos: gd.Specs[0].Pos(), End: gd.Specs[0].Pos(), NewText: []byte("\"errors\"\n\t")}
		}
		return &analysis.TextEdit{Pos: gd.Pos(), End: gd.Pos(), NewText: []byte("import \"errors\"\n")}
	}
	return &analysis.TextEdit{Pos: file.Name.End(), End: file.Name.End(), NewText: []byte("\n\nimport \"errors\"")}
}
