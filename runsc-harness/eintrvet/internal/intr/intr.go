// Package intr identifies the interrupt error values (EINTR in its various Go
// representations) and the syscall wrappers that the eintrvet passes reason
// about. Identification is by types.Object (package path + name), never by
// selector syntax, so unqualified uses inside the defining package and
// renamed or vendored imports are recognised too.
package intr

import (
	"go/ast"
	"go/types"
	"strings"
)

// Package paths of the packages that define interrupt values.
const (
	LinuxerrPath = "gvisor.dev/gvisor/pkg/errors/linuxerr"
	UnixPath     = "golang.org/x/sys/unix"
	SyscallPath  = "syscall"
	RuntimePath  = "runtime"
)

// PkgPath returns the import path of pkg with any vendor prefix removed
// ("a/vendor/golang.org/x/sys/unix" -> "golang.org/x/sys/unix"). It returns ""
// for a nil package (universe objects).
func PkgPath(pkg *types.Package) string {
	if pkg == nil {
		return ""
	}
	p := pkg.Path()
	if i := strings.LastIndex(p, "/vendor/"); i >= 0 {
		p = p[i+len("/vendor/"):]
	} else if strings.HasPrefix(p, "vendor/") {
		p = p[len("vendor/"):]
	}
	return p
}

// Is reports whether obj is the package-level object path.name.
func Is(obj types.Object, path, name string) bool {
	return obj != nil && obj.Name() == name && obj.Pkg() != nil &&
		obj.Parent() == obj.Pkg().Scope() && PkgPath(obj.Pkg()) == path
}

// IsInterrupt reports whether obj is one of the interrupt error values:
// linuxerr.ErrInterrupted, linuxerr.EINTR, unix.EINTR or syscall.EINTR.
func IsInterrupt(obj types.Object) bool {
	if obj == nil || obj.Pkg() == nil || obj.Parent() != obj.Pkg().Scope() {
		return false
	}
	switch PkgPath(obj.Pkg()) {
	case LinuxerrPath:
		return obj.Name() == "ErrInterrupted" || obj.Name() == "EINTR"
	case UnixPath, SyscallPath:
		return obj.Name() == "EINTR"
	}
	return false
}

// ObjectOf returns the object that the identifier or qualified identifier e
// (after removing parentheses) refers to, or nil.
func ObjectOf(info *types.Info, e ast.Expr) types.Object {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return info.Uses[e]
	case *ast.SelectorExpr:
		return info.Uses[e.Sel]
	}
	return nil
}

// IsInterruptExpr reports whether e denotes an interrupt error value.
func IsInterruptExpr(info *types.Info, e ast.Expr) bool {
	return IsInterrupt(ObjectOf(info, e))
}

// IsInterruptHelperName reports whether a function name suggests an EINTR
// predicate or retry helper: it contains "eintr" or "interrupt", or ends in
// "intr" (ignoringEINTR, retryOnEINTR, IsInterrupted, isIntr, ConvertIntr),
// case-insensitively.
func IsInterruptHelperName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "eintr") || strings.Contains(n, "interrupt") ||
		strings.HasSuffix(n, "intr")
}

// Callee returns the package-level function or method called by call, or
// nil for calls of function values, conversions and builtins.
func Callee(info *types.Info, call *ast.CallExpr) *types.Func {
	fn, _ := ObjectOf(info, call.Fun).(*types.Func)
	return fn
}

// IsSyscallFunc reports whether fn is the package-level function name in
// golang.org/x/sys/unix or syscall.
func IsSyscallFunc(fn *types.Func, names ...string) bool {
	if fn == nil || fn.Pkg() == nil {
		return false
	}
	if sig, ok := fn.Type().(*types.Signature); !ok || sig.Recv() != nil {
		return false
	}
	switch PkgPath(fn.Pkg()) {
	case UnixPath, SyscallPath:
	default:
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// MentionsInterrupt reports whether the subtree n refers to an interrupt
// error value or calls an EINTR helper (see IsInterruptHelperName). Function
// literals nested in n are not searched: their code runs elsewhere.
func MentionsInterrupt(info *types.Info, n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if found {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.Ident:
			if IsInterrupt(info.Uses[n]) {
				found = true
			}
		case *ast.CallExpr:
			if fn := Callee(info, n); fn != nil && IsInterruptHelperName(fn.Name()) {
				found = true
			}
		}
		return !found
	})
	return found
}

// Unconvert strips parentheses and type conversions such as
// uintptr(unix.SYS_READ) from e.
func Unconvert(info *types.Info, e ast.Expr) ast.Expr {
	for {
		e = ast.Unparen(e)
		call, ok := e.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return e
		}
		if tv, ok := info.Types[call.Fun]; !ok || !tv.IsType() {
			return e
		}
		e = call.Args[0]
	}
}
