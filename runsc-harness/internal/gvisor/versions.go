// Package gvisor finds gVisor releases as versions of the Go module
// gvisor.dev/gvisor: it lists them through the Go module proxy (with the
// local module cache as the offline fallback), resolves what a user typed
// (a full pseudo-version, a date, or "latest") to one of them, and downloads
// and verifies a version's source.
package gvisor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// ModulePath is gVisor's Go module path.
const ModulePath = "gvisor.dev/gvisor"

// Version is one snapshot of the gVisor module.
type Version struct {
	// Version is the module version, a pseudo-version such as
	// v0.0.0-20260518063529-209a0ce076a1.
	Version string `json:"version"`
	// Time is the commit time encoded in the pseudo-version.
	Time time.Time `json:"time"`
}

// Date is the snapshot's commit date, as 2006-01-02 in UTC.
func (v Version) Date() string { return v.Time.UTC().Format("2006-01-02") }

func (v Version) String() string { return v.Version }

// Source says where a version list came from.
type Source string

const (
	// FromProxy means the list came from the Go module proxy.
	FromProxy Source = "proxy"
	// FromCache means the proxy could not be reached and the list holds
	// only the versions already in the local module cache.
	FromCache Source = "module cache"
)

// Env is what the package needs from the go command's environment.
type Env struct {
	// GOPROXY is the proxy list, as `go env GOPROXY` prints it.
	GOPROXY string
	// GOMODCACHE is the module cache directory.
	GOMODCACHE string
	// GOFLAGS is passed to go commands.
	GOFLAGS string
}

// GoEnv reads Env from `go env`.
func GoEnv(ctx context.Context) (Env, error) {
	out, err := goCmd(ctx, "", nil, "env", "GOPROXY", "GOMODCACHE", "GOFLAGS")
	if err != nil {
		return Env{}, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) < 2 {
		return Env{}, fmt.Errorf("unexpected `go env` output %q", out)
	}
	e := Env{GOPROXY: lines[0], GOMODCACHE: lines[1]}
	if len(lines) > 2 {
		e.GOFLAGS = lines[2]
	}
	return e, nil
}

// proxyURLs returns the HTTP(S) proxies of a GOPROXY list, in order.
func proxyURLs(goproxy string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(goproxy, func(r rune) bool { return r == ',' || r == '|' }) {
		if strings.HasPrefix(f, "https://") || strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "file://") {
			out = append(out, strings.TrimRight(f, "/"))
		}
	}
	return out
}

// List returns every known version of the gVisor module, oldest first. It
// asks the module proxies of env.GOPROXY; when none answers it falls back
// to the versions in the local module cache and says so in the Source.
func List(ctx context.Context, env Env, client *http.Client) ([]Version, Source, error) {
	var proxyErrs []string
	for _, p := range proxyURLs(env.GOPROXY) {
		vs, err := listFromProxy(ctx, client, p)
		if err == nil {
			return vs, FromProxy, nil
		}
		proxyErrs = append(proxyErrs, err.Error())
	}
	vs, err := listFromCache(env.GOMODCACHE)
	if err != nil {
		return nil, "", err
	}
	if len(vs) == 0 {
		why := "GOPROXY has no proxy"
		if len(proxyErrs) > 0 {
			why = strings.Join(proxyErrs, "; ")
		}
		return nil, "", fmt.Errorf("cannot list %s versions: the module proxy is unreachable (%s) and the module cache has none", ModulePath, why)
	}
	return vs, FromCache, nil
}

func listFromProxy(ctx context.Context, client *http.Client, proxy string) ([]Version, error) {
	esc, err := module.EscapePath(ModulePath)
	if err != nil {
		return nil, err
	}
	url := proxy + "/" + esc + "/@v/list"
	var body []byte
	if path, ok := strings.CutPrefix(url, "file://"); ok {
		body, err = os.ReadFile(path)
	} else {
		body, err = httpGet(ctx, client, url)
	}
	if err != nil {
		return nil, err
	}
	var raw []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			raw = append(raw, f[0])
		}
	}
	vs := parseVersions(raw)
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s lists no versions", url)
	}
	return vs, nil
}

func httpGet(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, nil
}

// listFromCache lists the versions whose zip is in the module cache's
// download directory.
func listFromCache(modcache string) ([]Version, error) {
	if modcache == "" {
		return nil, nil
	}
	esc, err := module.EscapePath(ModulePath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(modcache, "cache", "download", filepath.FromSlash(esc), "@v")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading module cache: %w", err)
	}
	var raw []string
	for _, e := range ents {
		if v, ok := strings.CutSuffix(e.Name(), ".zip"); ok {
			raw = append(raw, v)
		}
	}
	return parseVersions(raw), nil
}

// parseVersions keeps the pseudo-versions of raw, sorted oldest first.
func parseVersions(raw []string) []Version {
	var out []Version
	seen := map[string]bool{}
	for _, r := range raw {
		if seen[r] || !semver.IsValid(r) || !module.IsPseudoVersion(r) {
			continue
		}
		t, err := module.PseudoVersionTime(r)
		if err != nil {
			continue
		}
		seen[r] = true
		out = append(out, Version{Version: r, Time: t.UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return semver.Compare(out[i].Version, out[j].Version) < 0 })
	return out
}

// Resolve picks the version that spec names from vs (sorted oldest first):
// a full module version, a date YYYY-MM-DD (the newest snapshot on or
// before that day, UTC), or "latest".
func Resolve(vs []Version, spec string) (Version, error) {
	if err := CheckSpec(strings.TrimSpace(spec)); err != nil {
		return Version{}, err
	}
	if len(vs) == 0 {
		return Version{}, errors.New("no gVisor versions known")
	}
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "latest":
		return vs[len(vs)-1], nil
	case strings.HasPrefix(spec, "v"):
		for _, v := range vs {
			if v.Version == spec {
				return v, nil
			}
		}
		if !semver.IsValid(spec) {
			return Version{}, fmt.Errorf("%q is not a module version, a date (YYYY-MM-DD) or \"latest\"", spec)
		}
		return Version{}, fmt.Errorf("unknown gVisor version %s (see `runsc-harness versions`)", spec)
	}
	day, err := time.Parse("2006-01-02", spec)
	if err != nil {
		return Version{}, fmt.Errorf("%q is not a module version, a date (YYYY-MM-DD) or \"latest\"", spec)
	}
	end := day.AddDate(0, 0, 1)
	var best *Version
	for i := range vs {
		if vs[i].Time.Before(end) {
			best = &vs[i]
		}
	}
	if best == nil {
		return Version{}, fmt.Errorf("no gVisor snapshot on or before %s (the first is %s, %s)", spec, vs[0].Date(), vs[0].Version)
	}
	return *best, nil
}

// CheckSpec reports whether spec has the form Resolve takes: "latest", a
// module version (v...) or a date (YYYY-MM-DD). It needs no version list,
// so a command can reject a bad value before it downloads anything.
func CheckSpec(spec string) error {
	switch {
	case spec == "latest":
		return nil
	case strings.HasPrefix(spec, "v") && semver.IsValid(spec):
		return nil
	}
	if _, err := time.Parse("2006-01-02", spec); err != nil {
		return fmt.Errorf("%q is not a module version, a date (YYYY-MM-DD) or \"latest\"", spec)
	}
	return nil
}

// CheckSpecs is CheckSpec for a value that, with allowMany, may also be
// "all" or a comma-separated list of specs.
func CheckSpecs(spec string, allowMany bool) error {
	specs := []string{spec}
	if allowMany {
		if spec == "all" {
			return nil
		}
		specs = strings.Split(spec, ",")
	}
	for _, s := range specs {
		if err := CheckSpec(strings.TrimSpace(s)); err != nil {
			return err
		}
	}
	return nil
}

// ResolveList resolves "all" (every version of vs) or a comma-separated
// list of specs (Resolve), in the order given.
func ResolveList(vs []Version, spec string) ([]Version, error) {
	if spec == "all" {
		return vs, nil
	}
	var out []Version
	for _, s := range strings.Split(spec, ",") {
		v, err := Resolve(vs, strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
