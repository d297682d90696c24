package bazel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

// The roles of the files the readers below parse, as their errors name
// them.
const (
	roleModule    = "MODULE.bazel"
	roleWorkspace = "WORKSPACE or .bzl file"
	roleStarlark  = "Starlark file"
)

// parse parses src with parseFn (build.ParseModule, build.ParseBzl, ...);
// a syntax error names the file's role and the position.
func parse(parseFn func(string, []byte) (*build.File, error), role string, src []byte) (*build.File, error) {
	f, err := parseFn(role, src)
	if err == nil {
		return f, nil
	}
	var pe build.ParseError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("parsing %s: line %d, column %d: %s", role, pe.Pos.Line, pe.Pos.LineRune, pe.Message)
	}
	return nil, fmt.Errorf("parsing %s: %w", role, err)
}

// callee is the name a call is made by: "bazel_dep" for bazel_dep(...),
// "runsc.version" for runsc.version(...); "" for any other callee
// (a call of a call's result, say).
func callee(c *build.CallExpr) string {
	var parts []string
	x := c.X
	for {
		d, ok := x.(*build.DotExpr)
		if !ok {
			break
		}
		parts = append([]string{d.Name}, parts...)
		x = d.X
	}
	id, ok := x.(*build.Ident)
	if !ok {
		return ""
	}
	return strings.Join(append([]string{id.Name}, parts...), ".")
}

// calls returns every call of fn in f, in source order, wherever it is:
// at the top level, in a function body (deps.bzl's macro) or inside
// another call's arguments. fn matches the callee's full name
// ("runsc.version") or, after a dot, its last part ("version" matches
// runsc.version(...) and native.version(...) alike).
func calls(f *build.File, fn string) []*build.CallExpr {
	var out []*build.CallExpr
	build.Walk(f, func(x build.Expr, _ []build.Expr) {
		c, ok := x.(*build.CallExpr)
		if !ok {
			return
		}
		name := callee(c)
		if name == fn || strings.HasSuffix(name, "."+fn) {
			out = append(out, c)
		}
	})
	return out
}

// line is the line a call starts on, for messages.
func line(c *build.CallExpr) int {
	start, _ := c.Span()
	return start.Line
}

// keyword returns the value of the keyword argument key of c, or nil.
func keyword(c *build.CallExpr, key string) build.Expr {
	for _, a := range c.List {
		as, ok := a.(*build.AssignExpr)
		if !ok || as.Op != "=" {
			continue
		}
		if id, ok := as.LHS.(*build.Ident); ok && id.Name == key {
			return as.RHS
		}
	}
	return nil
}

// stringKeyword returns the keyword argument key of c, the call of fn,
// when it is a string literal; ok is false when c has no such argument,
// and the error says so when it has one that is not a string literal.
func stringKeyword(c *build.CallExpr, fn, key string) (v string, ok bool, err error) {
	x := keyword(c, key)
	if x == nil {
		return "", false, nil
	}
	s, isString := x.(*build.StringExpr)
	if !isString {
		return "", false, fmt.Errorf("%s at line %d: %s is not a string literal", fn, line(c), key)
	}
	return s.Value, true, nil
}

// stringArgs returns the strings among the positional arguments of c, the
// call of fn, in order: string literals, and the string literals of list
// literals. Identifiers are skipped; any other argument, keyword
// arguments included, is an error, so that a list is never read in part.
func stringArgs(c *build.CallExpr, fn string) ([]string, error) {
	var out []string
	for i, a := range c.List {
		switch a := a.(type) {
		case *build.Ident:
			// The extension of use_repo(go_deps, ...).
		case *build.StringExpr:
			out = append(out, a.Value)
		case *build.ListExpr:
			for _, e := range a.List {
				s, ok := e.(*build.StringExpr)
				if !ok {
					return nil, fmt.Errorf("%s at line %d: argument %d: a list element is not a string literal", fn, line(c), i+1)
				}
				out = append(out, s.Value)
			}
		case *build.AssignExpr:
			return nil, fmt.Errorf("%s at line %d: keyword argument %s: only positional strings are read", fn, line(c), build.FormatString(a.LHS))
		default:
			return nil, fmt.Errorf("%s at line %d: argument %d is not a string, a list of strings or a name", fn, line(c), i+1)
		}
	}
	return out, nil
}

// BazelDeps returns the version of every bazel_dep in a MODULE.bazel, by
// module name. A bazel_dep without a version (one an override pins) maps
// to "". A bazel_dep without a literal name, a name declared twice, or a
// version that is not a string literal is an error.
func BazelDeps(moduleBazel []byte) (map[string]string, error) {
	f, err := parse(build.ParseModule, roleModule, moduleBazel)
	if err != nil {
		return nil, err
	}
	deps := map[string]string{}
	for _, c := range calls(f, "bazel_dep") {
		name, ok, err := stringKeyword(c, "bazel_dep", "name")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("bazel_dep at line %d has no name", line(c))
		}
		if _, dup := deps[name]; dup {
			return nil, fmt.Errorf("bazel_dep %q declared twice", name)
		}
		version, _, err := stringKeyword(c, "bazel_dep", "version")
		if err != nil {
			return nil, err
		}
		deps[name] = version
	}
	return deps, nil
}

// RepositoryVersion returns the version attribute of the call of the
// repository rule (or macro) rule whose name attribute is name, in a
// WORKSPACE or in a .bzl file of repository macros such as deps.bzl
// (calls inside a function body count; rule matches native.rule too). It
// is an error when there is no such call, more than one, or its version
// is missing or not a string literal.
func RepositoryVersion(workspace []byte, rule, name string) (string, error) {
	f, err := parse(build.ParseBzl, roleWorkspace, workspace)
	if err != nil {
		return "", err
	}
	var found []*build.CallExpr
	for _, c := range calls(f, rule) {
		if n, _, _ := stringKeyword(c, rule, "name"); n == name {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no %s named %q", rule, name)
	case 1:
	default:
		return "", fmt.Errorf("want one %s named %q, found %d", rule, name, len(found))
	}
	v, ok, err := stringKeyword(found[0], rule, "version")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s %q has no version", rule, name)
	}
	return v, nil
}

// StringArgs returns the strings passed to the single call of fn in a
// Starlark file, in order: the repositories of use_repo(go_deps, "a", "b")
// or of materialised_go_modules(["a", "b"]). Positional string literals
// and the elements of list literals count; identifiers (go_deps) are
// skipped. Any other argument (a keyword argument, a list comprehension, a
// concatenation) is an error, as is a number of calls other than one.
func StringArgs(src []byte, fn string) ([]string, error) {
	f, err := parse(build.ParseDefault, roleStarlark, src)
	if err != nil {
		return nil, err
	}
	found := calls(f, fn)
	if len(found) != 1 {
		return nil, fmt.Errorf("want one call of %s, found %d", fn, len(found))
	}
	return stringArgs(found[0], fn)
}

// UseRepo returns the repositories of the single use_repo call of a
// MODULE.bazel whose first argument is the extension ext:
// use_repo(go_deps, "a", "b") gives a, b. A keyword argument (a repository
// renamed) is an error, as is a number of such calls other than one.
func UseRepo(moduleBazel []byte, ext string) ([]string, error) {
	f, err := parse(build.ParseModule, roleModule, moduleBazel)
	if err != nil {
		return nil, err
	}
	var found []*build.CallExpr
	for _, c := range calls(f, "use_repo") {
		if len(c.List) == 0 {
			continue
		}
		if id, ok := c.List[0].(*build.Ident); ok && id.Name == ext {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("want one use_repo(%s, ...), found %d", ext, len(found))
	}
	return stringArgs(found[0], "use_repo("+ext+", ...)")
}

// CallAttr returns the string attribute attr of the single call of fn in a
// Starlark file. fn is a plain name ("runsc_repositories"), a dotted one
// ("runsc.version"), or the part after the dot ("version" for
// runsc.version). It is an error when fn is called other than once, or
// attr is missing or not a string literal.
func CallAttr(src []byte, fn, attr string) (string, error) {
	f, err := parse(build.ParseDefault, roleStarlark, src)
	if err != nil {
		return "", err
	}
	found := calls(f, fn)
	if len(found) != 1 {
		return "", fmt.Errorf("want one call of %s, found %d", fn, len(found))
	}
	v, ok, err := stringKeyword(found[0], fn, attr)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &MissingAttrError{Fn: fn, Attr: attr}
	}
	return v, nil
}

// MissingAttrError is CallAttr's error for a call without the attribute.
type MissingAttrError struct {
	// Fn and Attr are the function called and the attribute asked for.
	Fn, Attr string
}

func (e *MissingAttrError) Error() string { return e.Fn + " has no " + e.Attr }
