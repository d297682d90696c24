package gvisor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/dirhash"
)

// known is a slice of the real snapshot list, as the proxy serves it.
var known = []string{
	"v0.0.0-20260518063529-209a0ce076a1",
	"v0.0.0-20240423190808-9d7a357edefe",
	"v0.0.0-20260527191743-a81fd9dd382e",
	"v0.0.0-20260905035102-160fafc42237",
	"v0.0.0-20240509041132-65b30f7869dc",
}

func versions(t *testing.T) []Version {
	t.Helper()
	return parseVersions(append(known, "v1.2.3", "garbage", known[0]))
}

func names(vs []Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

func TestParseVersionsSortsAndFilters(t *testing.T) {
	want := []string{
		"v0.0.0-20240423190808-9d7a357edefe",
		"v0.0.0-20240509041132-65b30f7869dc",
		"v0.0.0-20260518063529-209a0ce076a1",
		"v0.0.0-20260527191743-a81fd9dd382e",
		"v0.0.0-20260905035102-160fafc42237",
	}
	vs := versions(t)
	if diff := cmp.Diff(want, names(vs)); diff != "" {
		t.Fatalf("parseVersions mismatch (-want +got):\n%s", diff)
	}
	if got := vs[2].Date(); got != "2026-05-18" {
		t.Errorf("Date() = %s, want 2026-05-18", got)
	}
}

func TestResolve(t *testing.T) {
	vs := versions(t)
	for _, tc := range []struct {
		spec, want, wantErr string
	}{
		{spec: "latest", want: "v0.0.0-20260905035102-160fafc42237"},
		{spec: "v0.0.0-20260518063529-209a0ce076a1", want: "v0.0.0-20260518063529-209a0ce076a1"},
		{spec: "2026-05-18", want: "v0.0.0-20260518063529-209a0ce076a1"},
		{spec: "2026-05-26", want: "v0.0.0-20260518063529-209a0ce076a1"},
		{spec: "2026-05-27", want: "v0.0.0-20260527191743-a81fd9dd382e"},
		{spec: "2030-01-01", want: "v0.0.0-20260905035102-160fafc42237"},
		{spec: " 2024-04-23 ", want: "v0.0.0-20240423190808-9d7a357edefe"},
		{spec: "2024-04-22", wantErr: "no gVisor snapshot on or before 2024-04-22 (the first is 2024-04-23, v0.0.0-20240423190808-9d7a357edefe)"},
		{spec: "2026-13-01", wantErr: `"2026-13-01" is not a module version, a date (YYYY-MM-DD) or "latest"`},
		{spec: "18/05/2026", wantErr: `"18/05/2026" is not a module version, a date (YYYY-MM-DD) or "latest"`},
		{spec: "v0.0.0-20260518063529-000000000000", wantErr: "unknown gVisor version v0.0.0-20260518063529-000000000000 (see `runsc-harness versions`)"},
		{spec: "vNext", wantErr: `"vNext" is not a module version`},
		{spec: "", wantErr: `"" is not a module version`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := Resolve(vs, tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve(%q) error = %v, want %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Version != tc.want {
				t.Fatalf("Resolve(%q) = %v, %v, want %s", tc.spec, got, err, tc.want)
			}
		})
	}
	if _, err := Resolve(nil, "latest"); err == nil {
		t.Error("Resolve on an empty list succeeded")
	}
}

func TestListFromProxy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gvisor.dev/gvisor/@v/list" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(strings.Join(known, "\n") + "\n"))
	}))
	defer srv.Close()
	vs, src, err := List(context.Background(), Env{GOPROXY: srv.URL + ",direct"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if src != FromProxy || len(vs) != len(known) {
		t.Errorf("List = %d versions from %s, want %d from proxy", len(vs), src, len(known))
	}
}

func fakeCache(t *testing.T, vs ...string) string {
	t.Helper()
	mc := t.TempDir()
	dir := filepath.Join(mc, "cache", "download", "gvisor.dev", "gvisor", "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		for _, ext := range []string{".zip", ".info", ".mod"} {
			if err := os.WriteFile(filepath.Join(dir, v+ext), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return mc
}

func TestListFallsBackToCache(t *testing.T) {
	// A proxy that refuses connections: a closed server's address.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()

	mc := fakeCache(t, known[0], known[1])
	vs, src, err := List(context.Background(), Env{GOPROXY: url, GOMODCACHE: mc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src != FromCache {
		t.Errorf("source = %s, want module cache", src)
	}
	if diff := cmp.Diff([]string{known[1], known[0]}, names(vs)); diff != "" {
		t.Errorf("cached versions mismatch (-want +got):\n%s", diff)
	}

	_, _, err = List(context.Background(), Env{GOPROXY: url, GOMODCACHE: t.TempDir()}, nil)
	if err == nil || !strings.Contains(err.Error(), "the module proxy is unreachable") || !strings.Contains(err.Error(), "the module cache has none") {
		t.Errorf("List with no proxy and no cache: error = %v", err)
	}
	_, _, err = List(context.Background(), Env{GOPROXY: "off", GOMODCACHE: t.TempDir()}, nil)
	if err == nil || !strings.Contains(err.Error(), "GOPROXY has no proxy") {
		t.Errorf("List with GOPROXY=off: error = %v", err)
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "pkg", "a.go")
	os.WriteFile(f, []byte("package pkg\n"), 0o644)
	v := "v0.0.0-20260518063529-209a0ce076a1"
	sum, err := dirhash.HashDir(dir, ModulePath+"@"+v, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	m := &Module{Version: v, Dir: dir, Sum: sum}
	if err := m.Verify(); err != nil {
		t.Fatalf("Verify on an intact tree: %v", err)
	}
	os.WriteFile(f, []byte("package pkg // edited\n"), 0o644)
	if err := m.Verify(); err == nil || !strings.Contains(err.Error(), "is corrupt") {
		t.Errorf("Verify after an edit: %v, want corrupt", err)
	}
	os.Remove(f)
	if err := m.Verify(); err == nil || !strings.Contains(err.Error(), "is corrupt") {
		t.Errorf("Verify after a removal: %v, want corrupt", err)
	}
	m.Dir = filepath.Join(dir, "missing")
	if err := m.Verify(); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Errorf("Verify of a missing dir: %v, want unreadable", err)
	}
}

func TestDownloadOffline(t *testing.T) {
	// With no proxy and an empty module cache the go command cannot get
	// the module: the error must name the module and version.
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOFLAGS", "-modcacherw")
	_, err := Download(context.Background(), "v0.0.0-20260518063529-209a0ce076a1")
	if err == nil || !strings.Contains(err.Error(), "downloading gvisor.dev/gvisor@v0.0.0-20260518063529-209a0ce076a1") {
		t.Fatalf("Download offline: error = %v", err)
	}
	t.Log(err)
}
