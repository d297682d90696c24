// Package threadns defines an Analyzer that reports thread-scoped namespace
// syscalls made without a locked OS thread.
//
// # Analyzer threadns
//
// threadns: report unshare(2), setns(2), and mount(2) after
// unshare(CLONE_NEWNS), in functions that do not call runtime.LockOSThread
// first.
//
// unshare and setns change the namespaces of the calling OS thread only. A
// goroutine that has not locked its thread may be moved to another thread
// between the call and the code that relies on it, and the changed thread
// returns to the scheduler's pool where unrelated goroutines inherit its
// namespaces. Reported, when no call of runtime.LockOSThread precedes them
// (by source position) in the same function:
//
//   - calls of unix.Unshare and syscall.Unshare, and unix/syscall Syscall,
//     Syscall6, RawSyscall, RawSyscall6 with trap SYS_UNSHARE;
//   - calls of unix.Setns and the Syscall family with trap SYS_SETNS;
//   - calls of unix.Mount and syscall.Mount that follow, in the same
//     function, an unshare whose flags argument is not a constant or is a
//     constant including CLONE_NEWNS (the mount then lands in a mount
//     namespace that only this thread is in).
//
// Caller-locked functions are accepted: an unexported function or method
// whose every use in the package is a direct call made after a
// runtime.LockOSThread in the calling function (or from another
// caller-locked function) is not checked. This is package-local and uses
// no facts.
//
// Limits: otherwise intra-procedural. An exported function called with the
// thread locked by its caller (in this or another package), a function also
// used as a value, or code running in a runtime.LockOSThread'ed init (the
// runc "init" pattern) is reported; a LockOSThread in a
// different branch that does not dominate the call is accepted. Function
// literals are separate functions: a goroutine that unshares must lock its
// own thread. Whether UnlockOSThread is called (returning a changed thread
// to the pool) is not checked.
package threadns

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/restartsys/restartsys/runsc-harness/eintrvet/internal/ignore"
	"github.com/restartsys/restartsys/runsc-harness/eintrvet/internal/intr"
)

// Analyzer reports unshare/setns (and mount after unshare(CLONE_NEWNS)) not
// preceded by runtime.LockOSThread in the same function. It has no flags and
// uses no facts.
var Analyzer = &analysis.Analyzer{
	Name:     "threadns",
	Doc:      "report unshare/setns (and mount after unshare(CLONE_NEWNS)) in functions that do not call runtime.LockOSThread first",
	URL:      "https://pkg.go.dev/github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/threadns",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

const cloneNewNS = 0x20000

type kind int

const (
	other kind = iota
	lock
	unshare
	unshareNS // unshare that may include CLONE_NEWNS
	setns
	mount
)

func run(pass *analysis.Pass) (any, error) {
	defer ignore.Install(pass)()
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	locked := callerLocked(pass, insp)
	for cur := range insp.Root().Preorder((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		var body *ast.BlockStmt
		switch n := cur.Node().(type) {
		case *ast.FuncDecl:
			if fn, ok := pass.TypesInfo.Defs[n.Name].(*types.Func); ok && locked[fn] {
				continue
			}
			body = n.Body
		case *ast.FuncLit:
			body = n.Body
		}
		if body == nil {
			continue
		}
		checkFunc(pass, body)
	}
	return nil, nil
}

// callerLocked returns the unexported functions and methods of the package
// all of whose uses are static calls made with the thread locked: after a
// runtime.LockOSThread in the calling function, or from a function that is
// itself caller-locked (computed to a fixpoint).
func callerLocked(pass *analysis.Pass, insp *inspector.Inspector) map[*types.Func]bool {
	type site struct {
		caller  *types.Func // enclosing FuncDecl's function, nil for a FuncLit or package level
		lockedH bool        // a LockOSThread precedes the call in its function
	}
	sites := map[*types.Func][]site{}
	bad := map[*types.Func]bool{} // used other than as a direct call
	lockPos := map[ast.Node]token.Pos{}
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if k, _ := classify(pass, call); k == lock {
			if f := enclosingFunc(cur); f != nil {
				if p, ok := lockPos[f.Node()]; !ok || call.Pos() < p {
					lockPos[f.Node()] = call.Pos()
				}
			}
		}
	}
	for cur := range insp.Root().Preorder((*ast.Ident)(nil)) {
		id := cur.Node().(*ast.Ident)
		fn, ok := pass.TypesInfo.Uses[id].(*types.Func)
		if !ok || fn.Pkg() != pass.Pkg || fn.Exported() {
			continue
		}
		// Find the call whose Fun is id (or a selector ending in id).
		c := cur.Parent()
		if sel, ok := c.Node().(*ast.SelectorExpr); ok && sel.Sel == id {
			c = c.Parent()
		}
		call, ok := c.Node().(*ast.CallExpr)
		if !ok || ast.Unparen(call.Fun) != id && !isSelOf(call.Fun, id) {
			bad[fn] = true
			continue
		}
		s := site{}
		if f := enclosingFunc(cur); f != nil {
			if p, ok := lockPos[f.Node()]; ok && p < call.Pos() {
				s.lockedH = true
			}
			if fd, ok := f.Node().(*ast.FuncDecl); ok {
				s.caller, _ = pass.TypesInfo.Defs[fd.Name].(*types.Func)
			}
		}
		sites[fn] = append(sites[fn], s)
	}
	locked := map[*types.Func]bool{}
	for changed := true; changed; {
		changed = false
		for fn, ss := range sites {
			if locked[fn] || bad[fn] {
				continue
			}
			all := true
			for _, s := range ss {
				if !s.lockedH && (s.caller == nil || !locked[s.caller]) {
					all = false
					break
				}
			}
			if all {
				locked[fn] = true
				changed = true
			}
		}
	}
	return locked
}

func isSelOf(e ast.Expr, id *ast.Ident) bool {
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	return ok && sel.Sel == id
}

func enclosingFunc(cur inspector.Cursor) *inspector.Cursor {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		return &c
	}
	return nil
}

func checkFunc(pass *analysis.Pass, body *ast.BlockStmt) {
	var lockPos token.Pos = token.NoPos
	var nsPos token.Pos = token.NoPos
	locked := func(p token.Pos) bool { return lockPos.IsValid() && lockPos < p }
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // checked separately
		case *ast.CallExpr:
			k, name := classify(pass, n)
			switch k {
			case lock:
				if !lockPos.IsValid() {
					lockPos = n.Pos()
				}
			case unshare, unshareNS, setns:
				if k == unshareNS && !nsPos.IsValid() {
					nsPos = n.Pos()
				}
				if !locked(n.Pos()) {
					pass.Reportf(n.Pos(), "%s changes only the calling thread's namespaces, but this function does not call runtime.LockOSThread before it", name)
				}
			case mount:
				if nsPos.IsValid() && nsPos < n.Pos() && !locked(n.Pos()) {
					pass.Reportf(n.Pos(), "%s after unshare(CLONE_NEWNS) without runtime.LockOSThread: the mount goes to whichever thread runs it", name)
				}
			}
		}
		return true
	})
}

func classify(pass *analysis.Pass, call *ast.CallExpr) (kind, string) {
	fn := intr.Callee(pass.TypesInfo, call)
	if fn == nil || fn.Pkg() == nil {
		return other, ""
	}
	if intr.Is(fn, intr.RuntimePath, "LockOSThread") {
		return lock, ""
	}
	qual := "unix."
	if intr.PkgPath(fn.Pkg()) == intr.SyscallPath {
		qual = "syscall."
	}
	switch {
	case intr.IsSyscallFunc(fn, "Unshare"):
		if len(call.Args) == 1 && mayHaveNewNS(pass, call.Args[0]) {
			return unshareNS, qual + "Unshare"
		}
		return unshare, qual + "Unshare"
	case intr.IsSyscallFunc(fn, "Setns"):
		return setns, qual + "Setns"
	case intr.IsSyscallFunc(fn, "Mount"):
		return mount, qual + "Mount"
	case intr.IsSyscallFunc(fn, "Syscall", "Syscall6", "RawSyscall", "RawSyscall6"):
		if len(call.Args) < 2 {
			return other, ""
		}
		c, ok := intr.ObjectOf(pass.TypesInfo, intr.Unconvert(pass.TypesInfo, call.Args[0])).(*types.Const)
		if !ok {
			return other, ""
		}
		switch intr.PkgPath(c.Pkg()) {
		case intr.UnixPath, intr.SyscallPath:
		default:
			return other, ""
		}
		switch c.Name() {
		case "SYS_UNSHARE":
			if mayHaveNewNS(pass, call.Args[1]) {
				return unshareNS, qual + fn.Name() + "(SYS_UNSHARE)"
			}
			return unshare, qual + fn.Name() + "(SYS_UNSHARE)"
		case "SYS_SETNS":
			return setns, qual + fn.Name() + "(SYS_SETNS)"
		}
	}
	return other, ""
}

func mayHaveNewNS(pass *analysis.Pass, e ast.Expr) bool {
	tv, ok := pass.TypesInfo.Types[e]
	if !ok || tv.Value == nil {
		return true
	}
	v, ok := constant.Int64Val(constant.ToInt(tv.Value))
	return !ok || v&cloneNewNS != 0
}
