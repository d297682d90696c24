package bazel

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	callRE   = regexp.MustCompile(`(?s)\b([a-z_]+)\((.*?)\)`)
	attrRE   = regexp.MustCompile(`\b([a-z_]+)\s*=\s*"([^"]*)"`)
	stringRE = regexp.MustCompile(`"([^"]*)"`)
)

// stripComments drops Starlark "#" comments (the files read here put no "#"
// inside strings).
func stripComments(src []byte) string {
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if j := strings.IndexByte(l, '#'); j >= 0 {
			lines[i] = l[:j]
		}
	}
	return strings.Join(lines, "\n")
}

// calls returns the string keyword arguments of every call of fn in src,
// one map per call. Calls must not nest parentheses.
func calls(src []byte, fn string) []map[string]string {
	var out []map[string]string
	for _, m := range callRE.FindAllStringSubmatch(stripComments(src), -1) {
		if m[1] != fn {
			continue
		}
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(m[2], -1) {
			attrs[a[1]] = a[2]
		}
		out = append(out, attrs)
	}
	return out
}

// BazelDeps returns the version of every bazel_dep in a MODULE.bazel, by
// module name.
func BazelDeps(moduleBazel []byte) (map[string]string, error) {
	deps := map[string]string{}
	for _, c := range calls(moduleBazel, "bazel_dep") {
		name, ok := c["name"]
		if !ok {
			return nil, fmt.Errorf("bazel_dep without name: %v", c)
		}
		if _, dup := deps[name]; dup {
			return nil, fmt.Errorf("bazel_dep %q declared twice", name)
		}
		deps[name] = c["version"]
	}
	return deps, nil
}

// RepositoryVersion returns the version attribute of the repository rule
// call named name in a WORKSPACE, or an error when there is no such call
// or it has no version.
func RepositoryVersion(workspace []byte, rule, name string) (string, error) {
	for _, c := range calls(workspace, rule) {
		if c["name"] != name {
			continue
		}
		v, ok := c["version"]
		if !ok {
			return "", fmt.Errorf("%s %q has no version", rule, name)
		}
		return v, nil
	}
	return "", fmt.Errorf("no %s named %q", rule, name)
}

// StringArgs returns the string literals passed to the single call of fn,
// in order: the repositories of use_repo(go_deps, ...) or
// materialised_go_modules([...]). Identifiers (go_deps) are skipped.
func StringArgs(src []byte, fn string) ([]string, error) {
	var found [][]string
	for _, m := range callRE.FindAllStringSubmatch(stripComments(src), -1) {
		if m[1] != fn {
			continue
		}
		var args []string
		for _, s := range stringRE.FindAllStringSubmatch(m[2], -1) {
			args = append(args, s[1])
		}
		found = append(found, args)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("want one call of %s, found %d", fn, len(found))
	}
	return found[0], nil
}

// UseRepo returns the repositories of the use_repo call whose first
// argument is the extension ext (use_repo(go_deps, "a", "b") gives a, b).
func UseRepo(moduleBazel []byte, ext string) ([]string, error) {
	re := regexp.MustCompile(`(?s)\buse_repo\(\s*` + regexp.QuoteMeta(ext) + `\s*,(.*?)\)`)
	found := re.FindAllStringSubmatch(stripComments(moduleBazel), -1)
	if len(found) != 1 {
		return nil, fmt.Errorf("want one use_repo(%s, ...), found %d", ext, len(found))
	}
	var args []string
	for _, s := range stringRE.FindAllStringSubmatch(found[0][1], -1) {
		args = append(args, s[1])
	}
	return args, nil
}

// CallAttr returns attribute attr of the single call of fn (a plain name:
// "runsc_repositories", or the part after the dot of "runsc.version").
func CallAttr(src []byte, fn, attr string) (string, error) {
	cs := calls(src, fn)
	if len(cs) != 1 {
		return "", fmt.Errorf("want one call of %s, found %d", fn, len(cs))
	}
	v, ok := cs[0][attr]
	if !ok {
		return "", fmt.Errorf("%s has no %s", fn, attr)
	}
	return v, nil
}
