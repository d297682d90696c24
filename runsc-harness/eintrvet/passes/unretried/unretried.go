// Package unretried defines an Analyzer that reports EINTR-prone syscalls
// whose error is neither retried nor deliberately handled.
//
// # Analyzer unretried
//
// unretried: report direct calls of EINTR-prone syscall wrappers whose
// error result is discarded or not retried on EINTR.
//
// The syscalls are those of signal(7)'s "restarted if SA_RESTART" list that a
// Go program calls directly through golang.org/x/sys/unix or syscall. Go
// installs its signal handlers with SA_RESTART, so natively these rarely
// fail with EINTR; under gVisor (before the restartsys fixes) and with
// handlers installed without SA_RESTART they do. The call is matched by
// object (package path + name), so renamed, dot- and vendored imports count:
//
//	Read Readv Write Writev Recvfrom Recvmsg RecvmsgBuffers Sendto Sendmsg
//	SendmsgN SendmsgBuffers Accept Accept4 Connect
//	Wait4 Waitid unless the options argument is a constant including WNOHANG
//	Flock        unless the how argument is a constant including LOCK_NB
//	FcntlFlock   only when the cmd argument is the constant F_SETLKW or
//	             F_OFD_SETLKW (by name or Linux value 7 / 38)
//	Open Openat Openat2   see below
//	Syscall Syscall6 RawSyscall RawSyscall6 (and the NoError variants are
//	not matched: they have no error)  when the trap argument names one of
//	SYS_READ SYS_READV SYS_WRITE SYS_WRITEV SYS_RECVFROM SYS_RECVMSG
//	SYS_RECVMMSG SYS_SENDTO SYS_SENDMSG SYS_SENDMMSG SYS_ACCEPT SYS_ACCEPT4
//	SYS_CONNECT SYS_WAIT4 SYS_WAITID SYS_FLOCK SYS_FUTEX; for SYS_FUTEX
//	only when the op argument is not a constant, or a constant whose
//	command (op &^ FUTEX_PRIVATE_FLAG &^ FUTEX_CLOCK_REALTIME) is
//	FUTEX_WAIT, FUTEX_WAIT_BITSET or FUTEX_WAIT_REQUEUE_PI. A trap given as
//	a bare number is not matched.
//
// Open rule: open(2) blocks (and so can be interrupted) only on FIFOs and
// some devices; nothing in the source says whether a path is a FIFO, and
// reporting every Open would bury the other findings. So Open, Openat and
// Openat2 are reported only when the same function also creates a FIFO
// (unix.Mkfifo, Mkfifoat, Mknod, Mknodat) and the flags argument is not a
// constant that includes O_NONBLOCK or O_PATH.
//
// A matched call is reported when its error result is discarded (the call is
// an expression statement, a go or defer statement, or the error is assigned
// to _). Otherwise it is accepted when any of these holds, and reported if
// none does:
//
//  1. Retried: the innermost enclosing for statement (in the same function;
//     range loops do not retry the same call) mentions an interrupt value
//     (unix.EINTR, syscall.EINTR, linuxerr.EINTR, linuxerr.ErrInterrupted,
//     in any expression: ==, !=, switch case, errors.Is, linuxerr.Equals)
//     or calls a helper whose name suggests EINTR handling (contains
//     "eintr" or "interrupt" or ends in "intr", case-insensitively), in its
//     condition, post statement or body (nested function literals
//     excluded). Whether the EINTR branch really loops is not checked.
//  2. Handled: the error is assigned to a variable and the enclosing
//     function checks that variable against an interrupt value somewhere
//     (v == unix.EINTR, switch v { case unix.EINTR: }, errors.Is(v,
//     unix.EINTR), an EINTR helper called with v). This accepts goto-based
//     retries and code that deliberately treats EINTR as success (futex
//     waits, best-effort writes).
//  3. Propagated: the call is directly an operand of a return statement
//     (`return unix.Read(fd, p)`): a thin wrapper leaves the retry to its
//     caller. This also covers the closures passed to retry helpers
//     (retryOnEINTR(func() error { return unix.Flock(fd, how) })).
//
// Limits: intra-procedural and syntactic. A non-blocking file descriptor
// never yields EINTR, but the fd's mode is not tracked, so writes and reads
// on non-blocking fds are reported (the main source of false positives); an
// error returned unchanged after other statements (`if err != nil { return
// 0, err }`) is reported, since it reaches the caller as a failure.
// epoll_wait, poll, select, nanosleep and other calls that are never
// restarted are out of scope.
package unretried

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

// Analyzer reports EINTR-prone syscalls whose error is discarded or not
// retried. It has no flags and uses no facts.
var Analyzer = &analysis.Analyzer{
	Name:     "unretried",
	Doc:      "report EINTR-prone syscalls (read, write, accept, connect, wait4, flock, F_SETLKW, futex wait, ...) whose error is discarded or not retried on EINTR",
	URL:      "https://pkg.go.dev/github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/unretried",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

var plainCalls = map[string]bool{
	"Read": true, "Readv": true, "Write": true, "Writev": true,
	"Recvfrom": true, "Recvmsg": true, "RecvmsgBuffers": true,
	"Sendto": true, "Sendmsg": true, "SendmsgN": true, "SendmsgBuffers": true,
	"Accept": true, "Accept4": true, "Connect": true,
	"Wait4": true, "Waitid": true,
}

var trapNames = map[string]bool{
	"SYS_READ": true, "SYS_READV": true, "SYS_WRITE": true, "SYS_WRITEV": true,
	"SYS_RECVFROM": true, "SYS_RECVMSG": true, "SYS_RECVMMSG": true,
	"SYS_SENDTO": true, "SYS_SENDMSG": true, "SYS_SENDMMSG": true,
	"SYS_ACCEPT": true, "SYS_ACCEPT4": true, "SYS_CONNECT": true,
	"SYS_WAIT4": true, "SYS_WAITID": true, "SYS_FLOCK": true, "SYS_FUTEX": true,
}

// Linux values (identical on amd64 and arm64).
const (
	lockNB          = 0x4
	wNohang         = 0x1
	fSetlkw         = 7
	fOFDSetlkw      = 38
	oNonblock       = 0x800
	oPath           = 0x200000
	futexWait       = 0
	futexWaitBitset = 9
	futexWaitReqPI  = 11
	futexCmdMask    = 0x7f // clears FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256)
)

func run(pass *analysis.Pass) (any, error) {
	defer ignore.Install(pass)()
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	// Functions that create FIFOs, for the Open rule.
	makesFIFO := map[ast.Node]bool{}
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		if intr.IsSyscallFunc(intr.Callee(pass.TypesInfo, cur.Node().(*ast.CallExpr)), "Mkfifo", "Mkfifoat", "Mknod", "Mknodat") {
			if fn := enclosingFunc(cur); fn != nil {
				makesFIFO[fn.Node()] = true
			}
		}
	}

	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		fn := intr.Callee(pass.TypesInfo, call)
		name, errIdx, ok := match(pass, call, fn)
		if !ok {
			continue
		}
		fnCur := enclosingFunc(cur)
		if fnCur == nil {
			continue // package-level initializer
		}
		if name == "open" && !makesFIFO[fnCur.Node()] {
			continue
		}
		what := "unix." + fn.Name()
		if intr.PkgPath(fn.Pkg()) == intr.SyscallPath {
			what = "syscall." + fn.Name()
		}
		if name != fn.Name() && name != "open" {
			what += "(" + name + ")"
		}

		errVar, discarded, returned := errResult(pass, cur, errIdx)
		switch {
		case discarded:
			pass.Reportf(call.Pos(), "error of EINTR-prone %s is discarded; an interrupted call is silently lost", what)
			continue
		case returned:
			continue
		}
		if loop := innermostFor(cur); loop != nil && intr.MentionsInterrupt(pass.TypesInfo, loop) {
			continue
		}
		if errVar != nil && checksVar(pass, fnCur.Node(), errVar) {
			continue
		}
		pass.Reportf(call.Pos(), "EINTR-prone %s is not retried on EINTR (no enclosing for loop checking EINTR, and its error is not compared with EINTR)", what)
	}
	return nil, nil
}

// match reports whether call is a matched syscall, returning a display name
// ("open" for the Open family) and the index of the error result.
func match(pass *analysis.Pass, call *ast.CallExpr, fn *types.Func) (string, int, bool) {
	if fn == nil || !intr.IsSyscallFunc(fn, fn.Name()) {
		return "", 0, false
	}
	sig := fn.Type().(*types.Signature)
	last := sig.Results().Len() - 1
	if last < 0 || !isError(sig.Results().At(last).Type()) {
		return "", 0, false
	}
	name := fn.Name()
	switch {
	case name == "Wait4" || name == "Waitid":
		// WNOHANG never blocks, so never fails with EINTR.
		optArg := map[string]int{"Wait4": 2, "Waitid": 3}[name]
		if len(call.Args) > optArg {
			if v, ok := intConst(pass, call.Args[optArg]); ok && v&wNohang != 0 {
				return "", 0, false
			}
		}
		return name, last, true
	case plainCalls[name]:
		return name, last, true
	case name == "Flock":
		if len(call.Args) == 2 {
			if v, ok := intConst(pass, call.Args[1]); ok && v&lockNB != 0 {
				return "", 0, false
			}
		}
		return name, last, true
	case name == "FcntlFlock":
		if len(call.Args) == 3 && isSetlkw(pass, call.Args[1]) {
			return name, last, true
		}
	case name == "Open" || name == "Openat" || name == "Openat2":
		flagArg := map[string]int{"Open": 1, "Openat": 2}[name]
		if name != "Openat2" && len(call.Args) > flagArg {
			if v, ok := intConst(pass, call.Args[flagArg]); ok && v&(oNonblock|oPath) != 0 {
				return "", 0, false
			}
		}
		return "open", last, true
	case name == "Syscall" || name == "Syscall6" || name == "RawSyscall" || name == "RawSyscall6":
		if len(call.Args) < 1 {
			return "", 0, false
		}
		obj := intr.ObjectOf(pass.TypesInfo, intr.Unconvert(pass.TypesInfo, call.Args[0]))
		c, ok := obj.(*types.Const)
		if !ok || !trapNames[c.Name()] {
			return "", 0, false
		}
		switch p := intr.PkgPath(c.Pkg()); p {
		case intr.UnixPath, intr.SyscallPath:
		default:
			return "", 0, false
		}
		if c.Name() == "SYS_FUTEX" && len(call.Args) > 2 {
			if op, ok := intConst(pass, call.Args[2]); ok {
				switch op & futexCmdMask {
				case futexWait, futexWaitBitset, futexWaitReqPI:
				default:
					return "", 0, false
				}
			}
		}
		return c.Name(), last, true
	}
	return "", 0, false
}

func isError(t types.Type) bool {
	if types.Identical(t, types.Universe.Lookup("error").Type()) {
		return true
	}
	// syscall.Errno from Syscall/RawSyscall.
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Name() == "Errno" && intr.PkgPath(n.Obj().Pkg()) == intr.SyscallPath
}

func isSetlkw(pass *analysis.Pass, e ast.Expr) bool {
	if obj := intr.ObjectOf(pass.TypesInfo, intr.Unconvert(pass.TypesInfo, e)); obj != nil {
		if obj.Name() == "F_SETLKW" || obj.Name() == "F_OFD_SETLKW" {
			return true
		}
	}
	v, ok := intConst(pass, e)
	return ok && (v == fSetlkw || v == fOFDSetlkw)
}

func intConst(pass *analysis.Pass, e ast.Expr) (int64, bool) {
	tv, ok := pass.TypesInfo.Types[e]
	if !ok || tv.Value == nil {
		return 0, false
	}
	return constant.Int64Val(constant.ToInt(tv.Value))
}

// enclosingFunc returns the cursor of the innermost FuncDecl or FuncLit
// containing cur.
func enclosingFunc(cur inspector.Cursor) *inspector.Cursor {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		if c == cur {
			continue
		}
		return &c
	}
	return nil
}

// innermostFor returns the innermost for statement enclosing cur inside the
// function fn, or nil. A range statement in between stops the search.
func innermostFor(cur inspector.Cursor) ast.Node {
	for c := range cur.Enclosing((*ast.ForStmt)(nil), (*ast.RangeStmt)(nil), (*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		switch n := c.Node().(type) {
		case *ast.ForStmt:
			return n
		default:
			return nil
		}
	}
	return nil
}

// errResult classifies what happens to the error result of the call at
// cur: the variable it is assigned to, whether it is discarded, and whether
// the call is directly returned.
func errResult(pass *analysis.Pass, cur inspector.Cursor, errIdx int) (v types.Object, discarded, returned bool) {
	call := cur.Node().(*ast.CallExpr)
	parent := cur.Parent()
	for {
		if _, ok := parent.Node().(*ast.ParenExpr); !ok {
			break
		}
		parent = parent.Parent()
	}
	switch p := parent.Node().(type) {
	case *ast.ExprStmt, *ast.GoStmt, *ast.DeferStmt:
		return nil, true, false
	case *ast.ReturnStmt:
		return nil, false, true
	case *ast.AssignStmt:
		if len(p.Rhs) == 1 && len(p.Lhs) > errIdx && ast.Unparen(p.Rhs[0]) == call {
			return lhsVar(pass, p.Lhs[errIdx])
		}
	case *ast.ValueSpec:
		if len(p.Values) == 1 && len(p.Names) > errIdx && ast.Unparen(p.Values[0]) == call {
			return lhsVar(pass, p.Names[errIdx])
		}
	}
	return nil, false, false
}

func lhsVar(pass *analysis.Pass, e ast.Expr) (types.Object, bool, bool) {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil, false, false
	}
	if id.Name == "_" {
		return nil, true, false
	}
	if obj := pass.TypesInfo.Defs[id]; obj != nil {
		return obj, false, false
	}
	return pass.TypesInfo.Uses[id], false, false
}

// checksVar reports whether fn's body compares v with an interrupt value or
// passes v to an EINTR helper or to a call that also names an interrupt
// value (errors.Is(v, unix.EINTR), linuxerr.Equals(linuxerr.EINTR, v)).
func checksVar(pass *analysis.Pass, fn ast.Node, v types.Object) bool {
	isV := func(e ast.Expr) bool {
		id, ok := ast.Unparen(e).(*ast.Ident)
		return ok && pass.TypesInfo.Uses[id] == v
	}
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		if found {
			return false
		}
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				found = (isV(n.X) && intr.IsInterruptExpr(pass.TypesInfo, n.Y)) ||
					(isV(n.Y) && intr.IsInterruptExpr(pass.TypesInfo, n.X))
			}
		case *ast.SwitchStmt:
			if n.Tag != nil && isV(n.Tag) {
				found = intr.MentionsInterrupt(pass.TypesInfo, n.Body)
			}
		case *ast.CallExpr:
			hasV, hasIntr := false, false
			for _, a := range n.Args {
				hasV = hasV || isV(a)
				hasIntr = hasIntr || intr.IsInterruptExpr(pass.TypesInfo, a)
			}
			if hasV {
				fn := intr.Callee(pass.TypesInfo, n)
				found = hasIntr || (fn != nil && intr.IsInterruptHelperName(fn.Name()))
			}
		}
		return !found
	})
	return found
}
