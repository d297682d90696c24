package build

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// compatPatch stands for a toolchain-compatibility backport: it changes
// what the fake runsc prints, so that a binary shows whether it carries it.
const compatPatch = `Subject: [PATCH] runsc: compat

---
diff --git a/runsc/main.go b/runsc/main.go
--- a/runsc/main.go
+++ b/runsc/main.go
@@ -7,4 +7,4 @@ import (
 	"gvisor.dev/gvisor/runsc/version"
 )
 
-func main() { fmt.Println("runsc version", version.Version(), a.F()) }
+func main() { fmt.Println("runsc compat version", version.Version(), a.F()) }
`

// baselineSeries is testSeries with a compat set in the baseline.
func baselineSeries(t *testing.T) *series.Series {
	t.Helper()
	fsys := fstest.MapFS{
		"series.json": {Data: []byte(`{"name": "test", "module": "gvisor.dev/gvisor",
  "sets": {"core": "core", "compat": "toolchain"},
  "baseline": ["compat"],
  "patches": [{"id": "0001", "file": "core/0001.patch", "set": "core", "summary": "fix",
    "affected": {"from": "v0.0.0-20240101000000-aaaaaaaaaaaa"},
    "detect": {"file": "pkg/a/a.go", "affected_if_contains": "return \"bug\""}},
   {"id": "0201", "file": "compat/0201.patch", "set": "compat", "summary": "compat",
    "affected": {"from": "v0.0.0-20240101000000-aaaaaaaaaaaa"},
    "detect": {"file": "runsc/main.go", "affected_if_contains": "\"runsc version\""}}]}`)},
		"core/0001.patch":   {Data: []byte(strings.Replace(fixPatch, "WANT", `"fixed"`, 1))},
		"compat/0201.patch": {Data: []byte(compatPatch)},
	}
	s, err := series.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBuildAppliesBaselineToStockAndPatched(t *testing.T) {
	cache := t.TempDir()
	s := baselineSeries(t)
	opts := options(t, cache, fakeModule(t, `"bug"`), s)
	opts.Sets = []string{"core"}
	var booted []string
	opts.Boot = func(_ context.Context, runsc string) (string, error) {
		booted = append(booted, runBinary(t, runsc))
		return "ran", nil
	}
	res, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	compat, _ := s.Select([]string{"compat"})
	stockStamp := fakeVersion + "+" + s.ID(compat) + ".0201"
	all := series.WithBaseline(compat, s.Patches[:1])
	patchedStamp := fakeVersion + "+" + s.ID(all) + ".0201.0001"
	if !strings.Contains(s.ID(all), "compat+core") {
		t.Errorf("patched series id %q does not name both sets", s.ID(all))
	}
	want := []string{
		"runsc compat version " + stockStamp + " bug",
		"runsc compat version " + patchedStamp + " fixed",
	}
	if got := []string{runBinary(t, res.Stock.Path), runBinary(t, res.Patched.Path)}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("binaries say\n%q\nwant\n%q", got, want)
	}
	if strings.Join(booted, "\n") != strings.Join(want, "\n") {
		t.Errorf("boot check saw %q, want both binaries %q", booted, want)
	}
	if res.StockSeriesID != s.ID(compat) || res.Stock.Stamp != stockStamp || res.Patched.Stamp != patchedStamp {
		t.Errorf("result: stock id %q stamp %q, patched stamp %q", res.StockSeriesID, res.Stock.Stamp, res.Patched.Stamp)
	}
}

// manifests lists the finished entries of a cache.
func manifests(t *testing.T, cache string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(cache, "runsc"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "manifest.json" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestBuildFailsWhenRunscDoesNotBoot(t *testing.T) {
	cache := t.TempDir()
	opts := options(t, cache, fakeModule(t, `"bug"`), testSeries(t, `"fixed"`))
	panicked := "panic: running on goroutine 51439637285696 (task goroutine for kernel.Task 0x1 is 0)"
	opts.Boot = func(context.Context, string) (string, error) { return "", errors.New(panicked) }
	_, err := Build(context.Background(), opts)
	if err == nil {
		t.Fatal("Build succeeded with a runsc that does not boot")
	}
	for _, want := range []string{"runsc-stock", "does not run, so it is not cached", panicked} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if m := manifests(t, cache); len(m) != 0 {
		t.Errorf("a binary that does not boot was cached: %v", m)
	}
}

func TestCachedBuildWithoutBootIsBootedOrDropped(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	mod := fakeModule(t, `"bug"`)
	s := testSeries(t, `"fixed"`)
	// Built before boot checks existed: cached without a boot record.
	if _, err := Build(ctx, options(t, cache, mod, s)); err != nil {
		t.Fatal(err)
	}
	opts := options(t, cache, mod, s)
	opts.StockOnly = true
	opts.Boot = func(context.Context, string) (string, error) { return "", errors.New("panic: boom") }
	if _, err := Build(ctx, opts); err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("stock that does not boot: Build error %v, want the boot failure", err)
	}
	opts.Boot = func(context.Context, string) (string, error) { return "ran", nil }
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stock.Cached {
		t.Error("a cached stock runsc that failed its boot check was taken from the cache again")
	}
	m, ok := readManifest(filepath.Dir(res.Stock.Path), mod.Sum, mustGoVersion(t))
	if !ok || m.Booted != "ran" {
		t.Errorf("manifest after boot: %+v (ok %v), want booted \"ran\"", m, ok)
	}
}

func mustGoVersion(t *testing.T) string {
	t.Helper()
	v, err := goVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
