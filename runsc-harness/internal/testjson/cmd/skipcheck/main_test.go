package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	passing, err := os.ReadFile(filepath.Join("..", "..", "testdata", "passing.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowed := write("allowed", "# header\nexample.com/tj/e TestNeedsRoot  # CI is not root\n")
	empty := write("empty", "# nothing may skip\n")
	bad := write("bad", "example.com/tj/e TestNeedsRoot\n")
	tests := []struct {
		name       string
		args       []string
		in         string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"skip allowed", []string{"-allow", allowed}, string(passing), 0,
			[]string{"ok  \texample.com/tj/d\t", "--- SKIP: TestNeedsRoot", "ok  \texample.com/tj/e\t"},
			[]string{"allowed skip: example.com/tj/e TestNeedsRoot (CI is not root): e_test.go:3: needs root",
				"2 package(s), 1 skip(s) (1 allowed), 0 problem(s)"}},
		{"skip not allowed", []string{"-allow", empty}, string(passing), 1,
			[]string{"ok  \texample.com/tj/e\t"},
			[]string{"skipcheck: skipped, not on the allow-list: example.com/tj/e TestNeedsRoot: e_test.go:3: needs root"}},
		{"no input", []string{"-allow", empty}, "", 1, nil, []string{"no package result"}},
		{"allow-list without reason", []string{"-allow", bad}, string(passing), 2, nil, []string{"has no reason"}},
		{"missing allow-list", []string{"-allow", filepath.Join(dir, "nope")}, "", 2, nil, []string{"no such file"}},
		{"stray argument", []string{"-allow", empty, "x"}, "", 2, nil, []string{`unexpected argument "x"`}},
		{"help", []string{"-h"}, "", 0, nil, []string{"usage: go test -json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.in), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestRepoAllowList checks that the repository's allow-list parses.
func TestRepoAllowList(t *testing.T) {
	var stderr bytes.Buffer
	allow := filepath.Join("..", "..", "..", "..", "..", ".ci", "skip-allowlist")
	if code := run([]string{"-allow", allow}, strings.NewReader(""), new(bytes.Buffer), &stderr); code != 1 {
		t.Errorf("exit %d with no input, want 1 (no package result); stderr:\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), allow) {
		t.Errorf("the allow-list does not parse:\n%s", stderr.String())
	}
}
