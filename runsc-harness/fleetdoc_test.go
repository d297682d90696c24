package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// fence is one fenced block of a Markdown file.
type fence struct {
	line int
	tags []string
	body string
}

// fences returns the fenced blocks of a Markdown document.
func fences(t *testing.T, path string) []fence {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fence
	var cur *fence
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{line: n, tags: strings.Fields(strings.TrimPrefix(line, "```"))}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated fence", path, cur.line)
	}
	return out
}

func hasTag(f fence, tag string) bool {
	for _, t := range f.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// TestFleetDocTagsEveryBlock makes sure no block of docs/fleet.md is
// silently left unchecked: each is either run by TestFleetDocRuns or says
// which kind of host it needs.
func TestFleetDocTagsEveryBlock(t *testing.T) {
	for _, f := range fences(t, "../docs/fleet.md") {
		if !hasTag(f, "runnable") && !hasTag(f, "docker-host") && !hasTag(f, "containerd-host") && !hasTag(f, "k8s-host") {
			t.Errorf("docs/fleet.md:%d: block tagged %q is neither runnable nor marked for a docker/containerd/k8s host", f.line, f.tags)
		}
	}
}

// TestFleetDocRuns runs the runnable shell blocks of docs/fleet.md, in
// order and as written, with PREFIX pointing at a scratch directory that
// already holds a "previous" runsc, and checks that the install, the node
// check and the rollback did what the document says.
func TestFleetDocRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds runsc and runs the storm")
	}
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	n := 0
	for _, f := range fences(t, "../docs/fleet.md") {
		if hasTag(f, "runnable") {
			if !hasTag(f, "sh") {
				t.Fatalf("docs/fleet.md:%d: runnable block is not sh", f.line)
			}
			script.WriteString(f.body)
			n++
		}
	}
	if n < 5 {
		t.Fatalf("only %d runnable blocks in docs/fleet.md", n)
	}
	prefix := t.TempDir()
	if err := os.MkdirAll(filepath.Join(prefix, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	previous := "#!/bin/sh\necho runsc version previous\n"
	if err := os.WriteFile(filepath.Join(prefix, "bin", "runsc"), []byte(previous), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PREFIX="+prefix)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the runnable blocks of docs/fleet.md failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"+restartsys-core-", // the patched stamp, after the build and after the install
		"no EINTR under " + filepath.Join(prefix, "bin", "runsc"),
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != "runsc version previous" {
		t.Errorf("after the rollback, runsc --version printed %q, want the previous runsc", last)
	}
}

// TestGeneratedDocsUpToDate checks that docs/affected-versions.md and
// docs/upstreaming.md are what `runsc-harness docs` generates from the
// series, the snapshots' sources and the recorded storm runs.
func TestGeneratedDocsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads every gVisor snapshot")
	}
	cmd := exec.Command(cliBin, "docs", "--check", "--dir", "docs")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docs --check: %v\n%s", err, out)
	}
}
