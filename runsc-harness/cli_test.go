package main

import (
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
)

// TestCLIContract drives every command through the command-line contract:
// CMD --help prints the command's usage on stdout and exits 0; an unknown
// flag, a bad value and a stray argument each exit 2 with one message on
// stderr naming what is wrong, before anything is downloaded or built.
func TestCLIContract(t *testing.T) {
	type call struct {
		args     []string
		code     int
		stderrRe string // a fragment the one error line must hold
	}
	cases := map[string][]call{
		"bench":   {{[]string{"--platform", "kvmx"}, 2, `--platform: unknown platform "kvmx"`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
		"build":   {{[]string{"--sets", "nope"}, 2, `--sets: unknown patch set "nope"`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
		"check":   {{[]string{"--gvisor", "nope"}, 2, `--gvisor: "nope" is not a module version`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
		"compare": {{[]string{"--in", ""}, 2, "--in is required"}, {[]string{"--in", "r.json", "x"}, 2, "unexpected argument(s): x"}},
		"docs":    {{[]string{"--sets", "nope"}, 2, `--sets: unknown patch set "nope"`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
		"e2e": {{[]string{"runc", "--modes", "bogus"}, 2, `unknown mode "bogus"`}, {[]string{"runc", "x"}, 2, "unexpected argument(s): x"},
			{[]string{"docker", "--modes", "asyncpreemptoff"}, 2, "asyncpreemptoff is for e2e runc only"},
			{[]string{"containerd", "--modes", "storm"}, 2, "plain only"},
			{[]string{"podman"}, 2, `want "e2e runc|docker|containerd [flags]"`}},
		"run": {{[]string{"--native", "--platform", "kvmx"}, 2, `unknown platform "kvmx"`}, {[]string{"--native", "x"}, 2, "single --guest"}},
		"upstream": {{[]string{"--platform", "kvmx"}, 2, `--platform: unknown platform "kvmx"`}, {[]string{"x"}, 2, `want "upstream verify|derive|suite [flags]"`},
			{[]string{"suite"}, 2, "--gvisor-src is required"},
			{[]string{"derive", "x"}, 2, "unexpected argument(s): x"}, {[]string{"derive", "--check=maybe"}, 2, "invalid boolean"}},
		"soak":     {{[]string{"--variant", "bogus"}, 2, `--variant: unknown storm variant "bogus"`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
		"verify":   {{[]string{"--platform", "kvmx"}, 2, `--platform: unknown platform "kvmx"`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
		"versions": {{[]string{"--sets", "nope"}, 2, `--sets: unknown patch set "nope"`}, {[]string{"x"}, 2, "unexpected argument(s): x"}},
	}
	if len(cases) != len(commands) {
		t.Fatalf("the table covers %d commands, the harness has %d: add the new one", len(cases), len(commands))
	}
	for name, calls := range cases {
		helpArgs := cliflag.HelpArgsOf(commands, name)
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{helpArgs, {"help", name}} {
				if args[0] != "help" {
					args = append([]string{name}, args...)
				}
				stdout, stderr, code := runCLI(t, nil, args...)
				if code != 0 || !strings.Contains(stdout, "usage: runsc-harness "+name) || stderr != "" {
					t.Errorf("%q: exit %d, want 0 with the usage on stdout; stdout %q, stderr %q", args, code, stdout, stderr)
				}
			}
			unknown := call{[]string{"--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"}
			if name == "e2e" {
				unknown.args = []string{"runc", "--no-such-flag"}
			}
			for _, c := range append([]call{unknown}, calls...) {
				args := append([]string{name}, c.args...)
				stdout, stderr, code := runCLI(t, nil, args...)
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if code != c.code || stdout != "" || len(lines) != 2 || strings.Count(stderr, c.stderrRe) != 1 ||
					!strings.HasPrefix(lines[0], "runsc-harness "+name+": ") || lines[1] != "Run 'runsc-harness help "+name+"' for usage." {
					t.Errorf("%q: exit %d (want %d), stdout %q, stderr %q: want one message holding %q and the help hint", args, code, c.code, stdout, stderr, c.stderrRe)
				}
			}
		})
	}
	for _, c := range []struct {
		args []string
		code int
	}{{nil, 2}, {[]string{"help"}, 0}, {[]string{"--help"}, 0}, {[]string{"nope"}, 2}, {[]string{"help", "a", "b"}, 2}} {
		if _, _, code := runCLI(t, nil, c.args...); code != c.code {
			t.Errorf("runsc-harness %q: exit %d, want %d", c.args, code, c.code)
		}
	}
}
