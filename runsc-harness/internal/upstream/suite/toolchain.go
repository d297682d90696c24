package suite

import (
	"os/exec"
	"strings"
)

// gxxVersion is g++'s full version, or "unknown".
func gxxVersion() string {
	out, err := exec.Command("g++", "-dumpfullversion").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// debVersions lists the installed versions of Debian packages ("name
// version"), "name ?" for one dpkg-query does not know.
func debVersions(pkgs ...string) string {
	var out []string
	for _, p := range pkgs {
		v, err := exec.Command("dpkg-query", "-W", "-f=${Version}", p).Output()
		if err != nil || len(v) == 0 {
			out = append(out, p+" ?")
			continue
		}
		out = append(out, p+" "+strings.TrimSpace(string(v)))
	}
	return strings.Join(out, ", ")
}
