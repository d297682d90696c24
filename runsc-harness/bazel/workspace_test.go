package bazel

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// offlineRulesGo is the rules_go release WORKSPACE must pin: the newest
// that loads on Bazel 4.2.3, the one patches/rules_go/ is written against.
const offlineRulesGo = "v0.34.0"

// root is the workspace root, both under "go test" (run in this package's
// directory) and under "bazel test" (run in the same place in runfiles).
const root = "../.."

func readRoot(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRepoName(t *testing.T) {
	tests := []struct {
		module, want string
	}{
		{"golang.org/x/sys", "org_golang_x_sys"},
		{"github.com/google/go-cmp", "com_github_google_go_cmp"},
		{"github.com/opencontainers/runtime-spec", "com_github_opencontainers_runtime_spec"},
		{"gvisor.dev/gvisor", "dev_gvisor_gvisor"},
		{"example.com", "com_example"},
	}
	for _, tt := range tests {
		if got := RepoName(tt.module); got != tt.want {
			t.Errorf("RepoName(%q) = %q, want %q", tt.module, got, tt.want)
		}
	}
}

func TestLabel(t *testing.T) {
	tests := []struct {
		module, pkg, want string
	}{
		{"golang.org/x/sys", "golang.org/x/sys/unix", "@org_golang_x_sys//unix:unix"},
		{"github.com/google/go-cmp", "github.com/google/go-cmp/cmp/cmpopts", "@com_github_google_go_cmp//cmp/cmpopts:cmpopts"},
		{"example.com/m", "example.com/m", "@com_example_m//:m"},
	}
	for _, tt := range tests {
		if got := Label(tt.module, tt.pkg); got != tt.want {
			t.Errorf("Label(%q, %q) = %q, want %q", tt.module, tt.pkg, got, tt.want)
		}
	}
}

func TestParsers(t *testing.T) {
	src := []byte(`
# bazel_dep(name = "commented", version = "9")
bazel_dep(name = "rules_go", version = "0.60.0", repo_name = "io_bazel_rules_go")
bazel_dep(name = "gazelle", version = "0.47.0")
bazel_dep(name = "overridden")  # no version: an override pins it
materialised_repository(
    name = "io_bazel_rules_go",
    path = "x",
    version = "v0.34.0",
)
use_repo(go_deps, "a_b", "c_d")
`)
	deps, err := BazelDeps(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"rules_go": "0.60.0", "gazelle": "0.47.0", "overridden": ""}; !maps.Equal(deps, want) {
		t.Errorf("BazelDeps = %v, want %v", deps, want)
	}
	if v, err := RepositoryVersion(src, "materialised_repository", "io_bazel_rules_go"); err != nil || v != "v0.34.0" {
		t.Errorf("RepositoryVersion = %q, %v; want v0.34.0", v, err)
	}
	if got, err := StringArgs(src, "use_repo"); err != nil || !slices.Equal(got, []string{"a_b", "c_d"}) {
		t.Errorf("StringArgs = %q, %v", got, err)
	}

	// A .bzl macro as deps.bzl: calls in a function body, nested
	// parentheses, "#" and ")" inside strings.
	macro := []byte(`"""Doc (with a paren)."""

load(":repositories.bzl", "materialised_go_modules", "materialised_repository")

def restartsys_repositories():
    """Declares (things)."""
    native.local_repository(name = "skylib", path = "/a#b)", version = str(1))
    materialised_repository(
        name = "io_bazel_rules_go",
        path = "third_party/materialised/" + "rules_go",
        version = "v0.34.0",  # the one for Bazel 4
    )
    materialised_go_modules([
        "a_b",  # first
        # "commented_out",
        "c_d",
    ])
`)
	if v, err := RepositoryVersion(macro, "materialised_repository", "io_bazel_rules_go"); err != nil || v != "v0.34.0" {
		t.Errorf("RepositoryVersion in a def = %q, %v; want v0.34.0", v, err)
	}
	if got, err := StringArgs(macro, "materialised_go_modules"); err != nil || !slices.Equal(got, []string{"a_b", "c_d"}) {
		t.Errorf("StringArgs in a def = %q, %v; want [a_b c_d]", got, err)
	}

	two := []byte(`use_repo(go_deps, "a_b", "c_d")
use_repo(runsc, "runsc_stock")
runsc.version(gvisor = "v1")`)
	if got, err := UseRepo(two, "go_deps"); err != nil || !slices.Equal(got, []string{"a_b", "c_d"}) {
		t.Errorf("UseRepo(go_deps) = %q, %v", got, err)
	}
	if got, err := UseRepo(two, "runsc"); err != nil || !slices.Equal(got, []string{"runsc_stock"}) {
		t.Errorf("UseRepo(runsc) = %q, %v", got, err)
	}
	if got, err := CallAttr([]byte(`f(x = "a#b)c")  # ) "`), "f", "x"); err != nil || got != "a#b)c" {
		t.Errorf("CallAttr of a string holding # and ) = %q, %v", got, err)
	}
	for _, fn := range []string{"version", "runsc.version"} {
		if got, err := CallAttr(two, fn, "gvisor"); err != nil || got != "v1" {
			t.Errorf("CallAttr(%s) = %q, %v", fn, got, err)
		}
	}

	// Each error, by the words it must carry.
	for _, tt := range []struct {
		name string
		call func() error
		want string
	}{
		{"BazelDeps duplicate", func() error {
			_, err := BazelDeps([]byte("bazel_dep(name = \"a\", version = \"1\")\nbazel_dep(name = \"a\", version = \"2\")\n"))
			return err
		}, `bazel_dep "a" declared twice`},
		{"BazelDeps without name", func() error {
			_, err := BazelDeps([]byte(`bazel_dep(version = "1")`))
			return err
		}, "bazel_dep at line 1 has no name"},
		{"BazelDeps version not a string", func() error {
			_, err := BazelDeps([]byte(`bazel_dep(name = "a", version = V)`))
			return err
		}, "version is not a string literal"},
		{"BazelDeps syntax error", func() error {
			_, err := BazelDeps([]byte("bazel_dep(name = \"a\"\n"))
			return err
		}, "parsing MODULE.bazel: line "},
		{"RepositoryVersion missing", func() error {
			_, err := RepositoryVersion(src, "materialised_repository", "missing")
			return err
		}, `no materialised_repository named "missing"`},
		{"RepositoryVersion twice", func() error {
			_, err := RepositoryVersion([]byte("r(name = \"a\", version = \"1\")\nr(name = \"a\", version = \"2\")\n"), "r", "a")
			return err
		}, `want one r named "a", found 2`},
		{"RepositoryVersion without version", func() error {
			_, err := RepositoryVersion([]byte(`r(name = "a")`), "r", "a")
			return err
		}, `r "a" has no version`},
		{"RepositoryVersion version not a string", func() error {
			_, err := RepositoryVersion(macro, "local_repository", "skylib")
			return err
		}, "version is not a string literal"},
		{"RepositoryVersion syntax error", func() error {
			_, err := RepositoryVersion([]byte("def f(:\n"), "r", "a")
			return err
		}, "parsing WORKSPACE or .bzl file: line "},
		{"StringArgs two calls", func() error {
			_, err := StringArgs([]byte("use_repo(x, \"a\")\nuse_repo(y, \"b\")\n"), "use_repo")
			return err
		}, "want one call of use_repo, found 2"},
		{"StringArgs no call", func() error {
			_, err := StringArgs(src, "absent")
			return err
		}, "want one call of absent, found 0"},
		{"StringArgs computed list", func() error {
			_, err := StringArgs([]byte(`m(["a"] + ["b"])`), "m")
			return err
		}, "argument 1 is not a string"},
		{"StringArgs list of names", func() error {
			_, err := StringArgs([]byte(`m(["a", B])`), "m")
			return err
		}, "a list element is not a string literal"},
		{"StringArgs syntax error", func() error {
			_, err := StringArgs([]byte(`m("a"`), "m")
			return err
		}, "parsing Starlark file: line "},
		{"UseRepo keyword", func() error {
			_, err := UseRepo([]byte(`use_repo(go_deps, local = "a_b")`), "go_deps")
			return err
		}, "keyword argument local"},
		{"UseRepo none", func() error {
			_, err := UseRepo(two, "other")
			return err
		}, "want one use_repo(other, ...), found 0"},
		{"CallAttr missing attr", func() error {
			_, err := CallAttr(two, "version", "sets")
			return err
		}, "version has no sets"},
		{"CallAttr two calls", func() error {
			_, err := CallAttr([]byte("a.f(x = \"1\")\nb.f(x = \"2\")\n"), "f", "x")
			return err
		}, "want one call of f, found 2"},
	} {
		err := tt.call()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestGoModules checks that WORKSPACE and MODULE.bazel declare exactly one
// repository per module go.mod requires, under gazelle's names.
func TestGoModules(t *testing.T) {
	mf, err := modfile.Parse("go.mod", readRoot(t, "go.mod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range mf.Require {
		want = append(want, RepoName(r.Mod.Path))
	}
	sort.Strings(want)
	for _, c := range []struct {
		file, fn string
		args     func([]byte) ([]string, error)
	}{
		{"runsc-harness/bazel/deps.bzl", "materialised_go_modules", func(b []byte) ([]string, error) { return StringArgs(b, "materialised_go_modules") }},
		{"MODULE.bazel", "use_repo(go_deps, ...)", func(b []byte) ([]string, error) { return UseRepo(b, "go_deps") }},
	} {
		got, err := c.args(readRoot(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s = %q, want %q (one per go.mod require)", c.file, c.fn, got, want)
		}
	}
}

// TestRunscVersions checks that WORKSPACE (runsc_repositories) and
// MODULE.bazel (the runsc extension) build @runsc_stock and @runsc_patched
// for the same gVisor version, and that MODULE.bazel brings both in.
func TestRunscVersions(t *testing.T) {
	ws, err := CallAttr(readRoot(t, "WORKSPACE"), "runsc_repositories", "gvisor")
	if err != nil {
		t.Fatalf("WORKSPACE: %v", err)
	}
	mod := readRoot(t, "MODULE.bazel")
	mv, err := CallAttr(mod, "runsc.version", "gvisor")
	if err != nil {
		t.Fatalf("MODULE.bazel: runsc.version: %v", err)
	}
	if ws != mv {
		t.Errorf("gVisor for runsc: WORKSPACE %q, MODULE.bazel %q; want the same", ws, mv)
	}
	wsSets, err := CallAttr(readRoot(t, "WORKSPACE"), "runsc_repositories", "sets")
	if err != nil {
		t.Fatalf("WORKSPACE: %v", err)
	}
	mvSets, err := CallAttr(mod, "runsc.version", "sets")
	if err != nil {
		t.Fatalf("MODULE.bazel: runsc.version: %v", err)
	}
	if wsSets != mvSets {
		t.Errorf("patch sets for runsc: WORKSPACE %q, MODULE.bazel %q; want the same", wsSets, mvSets)
	}
	repos, err := UseRepo(mod, "runsc")
	if err != nil {
		t.Fatalf("MODULE.bazel: %v", err)
	}
	sort.Strings(repos)
	if want := []string{"runsc_patched", "runsc_stock"}; !slices.Equal(repos, want) {
		t.Errorf("MODULE.bazel use_repo(runsc, ...) = %q, want %q", repos, want)
	}
}

// TestRulesGoVersions checks the documented relation of the rules_go
// versions: WORKSPACE and setup.sh pin the one release the patch series is
// for; MODULE.bazel needs a newer one (v0.34.0 predates Go 1.26, and the
// releases after it do not load on Bazel 4, so they cannot be equal).
func TestRulesGoVersions(t *testing.T) {
	ws, err := RepositoryVersion(readRoot(t, "runsc-harness/bazel/deps.bzl"), "materialised_repository", "io_bazel_rules_go")
	if err != nil {
		t.Fatalf("deps.bzl: %v", err)
	}
	if ws != offlineRulesGo {
		t.Errorf("deps.bzl pins rules_go %s, want %s", ws, offlineRulesGo)
	}
	setup, err := os.ReadFile("setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RULES_GO_VERSION=(\S+)$`).FindSubmatch(setup)
	if m == nil || string(m[1]) != ws {
		t.Errorf("setup.sh RULES_GO_VERSION = %q, want %s (as deps.bzl)", m, ws)
	}
	deps, err := BazelDeps(readRoot(t, "MODULE.bazel"))
	if err != nil {
		t.Fatalf("MODULE.bazel: %v", err)
	}
	mod, ok := deps["rules_go"]
	if !ok {
		t.Fatal("MODULE.bazel has no bazel_dep rules_go")
	}
	if !semver.IsValid("v"+mod) || semver.Compare("v"+mod, ws) <= 0 {
		t.Errorf("MODULE.bazel rules_go %s, want a valid version newer than WORKSPACE's %s", mod, ws)
	}
	if _, ok := deps["gazelle"]; !ok {
		t.Error("MODULE.bazel has no bazel_dep gazelle (go_deps comes from it)")
	}
}

// TestCallAttrMissing: a call without the attribute is told apart from
// every other problem (setup.sh's callattr -default relies on it).
func TestCallAttrMissing(t *testing.T) {
	src := []byte("runsc_repositories(gvisor = \"v1\")\n")
	_, err := CallAttr(src, "runsc_repositories", "sets")
	var missing *MissingAttrError
	if !errors.As(err, &missing) || err.Error() != "runsc_repositories has no sets" {
		t.Errorf("CallAttr without the attribute = %v, want a MissingAttrError", err)
	}
	for _, bad := range []string{"", "runsc_repositories(sets = 1)\n", "runsc_repositories(\n"} {
		if _, err := CallAttr([]byte(bad), "runsc_repositories", "sets"); errors.As(err, &missing) || err == nil {
			t.Errorf("CallAttr(%q) = %v, want an error that is not a MissingAttrError", bad, err)
		}
	}
}
