// Package bazel holds what the Bazel build's own checks share: the
// repository names gazelle gives Go modules, and readers for the few
// declarations of WORKSPACE and MODULE.bazel that must agree.
package bazel

import (
	"path"
	"strings"
)

// RepoName is the Bazel repository name gazelle gives the Go module at
// modulePath: the host's labels reversed, then the path, with every
// character that is not a letter or digit turned into "_".
// golang.org/x/sys becomes org_golang_x_sys.
func RepoName(modulePath string) string {
	host, rest, _ := strings.Cut(modulePath, "/")
	labels := strings.Split(host, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	name := strings.Join(labels, ".")
	if rest != "" {
		name += "/" + rest
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Label is the Bazel label of the go_library for importPath, a package of
// the Go module modulePath, under gazelle's "import" naming convention.
func Label(modulePath, importPath string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(importPath, modulePath), "/")
	return "@" + RepoName(modulePath) + "//" + rel + ":" + path.Base(importPath)
}
