package guests

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// isStatic reports whether the ELF file at p has no program interpreter.
func isStatic(t *testing.T, p string) bool {
	t.Helper()
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestBuildGoCachedByContent(t *testing.T) {
	var log bytes.Buffer
	b := &Builder{RepoRoot: repoRoot(t), OutDir: t.TempDir(), Log: &log}
	g, err := Lookup("tiny")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p1, err := b.Build(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if !isStatic(t, p1) {
		t.Errorf("%s is not static", p1)
	}
	p2, err := b.Build(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Errorf("unchanged guest got a new path: %s then %s", p1, p2)
	}
	if got := log.String(); !strings.Contains(got, "built") || !strings.Contains(got, "up to date") {
		t.Errorf("log does not show a build then a reuse:\n%s", got)
	}
	out, err := exec.Command(p1).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"program": "tiny"`)) {
		t.Errorf("tiny printed %s", out)
	}
}

// fakeRepo makes a repository with one C guest in dir "cg".
func fakeRepo(t *testing.T, src string) (string, Guest) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "cg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cg", "main.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, Guest{Name: "cg", Lang: C, Dir: "cg"}
}

const helloC = `#include <pthread.h>
#include <stdio.h>
static void *run(void *a) { return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, run, 0); pthread_join(t, 0); puts("hello"); return 0; }
`

func TestBuildC(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no cc")
	}
	root, g := fakeRepo(t, helloC)
	b := &Builder{RepoRoot: root, OutDir: filepath.Join(root, "out")}
	ctx := context.Background()
	p1, err := b.Build(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if !isStatic(t, p1) {
		t.Errorf("%s is not static", p1)
	}
	out, err := exec.Command(p1).Output()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("guest printed %q, %v", out, err)
	}
	// Changing the source changes the key and the binary.
	if err := os.WriteFile(filepath.Join(root, "cg", "main.c"), []byte(strings.Replace(helloC, "hello", "bye", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p2, err := b.Build(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 {
		t.Errorf("changed source kept path %s", p1)
	}
	out, _ = exec.Command(p2).Output()
	if string(out) != "bye\n" {
		t.Errorf("rebuilt guest printed %q", out)
	}
}

func TestBuildCErrors(t *testing.T) {
	// A "compiler" that knows its version but cannot link statically.
	fake := filepath.Join(t.TempDir(), "fakecc")
	script := "#!/bin/sh\n[ \"$1\" = --version ] && { echo fakecc 1; exit 0; }\necho '/usr/bin/ld: cannot find -lc' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cc   string
		want error
	}{
		{"no compiler", "/nonexistent/cc", ErrNoCC},
		{"no static libc", fake, ErrNoStaticLibc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CC", tc.cc)
			root, g := fakeRepo(t, helloC)
			b := &Builder{RepoRoot: root, OutDir: filepath.Join(root, "out")}
			_, err := b.Build(context.Background(), g)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Build error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("storm"); err != nil {
		t.Error(err)
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Lookup(nope) = %v, want ErrUnknown", err)
	}
}
