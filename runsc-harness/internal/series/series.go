// Package series loads the restartsys patch series map (patches/series.json),
// decides which patches a gVisor source tree needs, and applies them with
// git apply.
package series

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// MapFile is the name of the series map inside a series directory.
const MapFile = "series.json"

// Series is a parsed series map together with the patch files it names.
type Series struct {
	// Name is the series name stamped into patched binaries.
	Name string `json:"name"`
	// Module is the Go module the series patches (gvisor.dev/gvisor).
	Module string `json:"module"`
	// Sets describes each patch set by name ("core", "parity", "compat").
	Sets map[string]string `json:"sets"`
	// Baseline names the sets applied to every build of a tree, stock
	// included ("compat": toolchain compatibility for old snapshots), so
	// that the stock baseline runs and the comparison with the patched
	// runsc stays fair. The patched build carries them too.
	Baseline []string `json:"baseline,omitempty"`
	// Patches are the patches in the order they apply.
	Patches []*Patch `json:"patches"`

	// contents maps a patch id to its file's bytes.
	contents map[string][]byte
}

// Patch is one entry of the series map.
type Patch struct {
	// ID orders the patch in the series ("0001").
	ID string `json:"id"`
	// File is the patch's path relative to the series directory.
	File string `json:"file"`
	// Set is the patch set the patch belongs to.
	Set string `json:"set"`
	// Summary says in one line what the patch changes.
	Summary string `json:"summary"`
	// Affected is the range of module versions that carry the bug.
	Affected Range `json:"affected"`
	// FixedUpstreamIn is the first module version with an upstream fix, if
	// any; from it on, the patch is skipped.
	FixedUpstreamIn string `json:"fixed_upstream_in,omitempty"`
	// Detect finds the bug in a source tree, so that whether a patch is
	// still needed is detected, not guessed from the version alone.
	Detect Detect `json:"detect"`
	// UpstreamTest names the gVisor test/syscalls test that covers the fix.
	UpstreamTest string `json:"upstream_test,omitempty"`
	// TestDescription describes, for an upstream contributor, the
	// test/syscalls case to port: setup, signal, expected Linux result.
	TestDescription string `json:"test_description,omitempty"`
}

// Range is an inclusive range of module versions. An empty bound is open.
type Range struct {
	// From is the first affected version.
	From string `json:"from,omitempty"`
	// Through is the last affected version.
	Through string `json:"through,omitempty"`
}

// Contains reports whether version v lies within r.
func (r Range) Contains(v string) bool {
	if r.From != "" && semver.Compare(v, r.From) < 0 {
		return false
	}
	if r.Through != "" && semver.Compare(v, r.Through) > 0 {
		return false
	}
	return true
}

// Detect is a source-level test for the bug a patch fixes.
type Detect struct {
	// File is the tree-relative file that holds the buggy code.
	File string `json:"file"`
	// AffectedIfContains is a line fragment present only in affected trees.
	AffectedIfContains string `json:"affected_if_contains"`
}

// Load reads and validates the series map and every patch file it names
// from fsys (a series directory, such as patches.FS).
func Load(fsys fs.FS) (*Series, error) {
	raw, err := fs.ReadFile(fsys, MapFile)
	if err != nil {
		return nil, fmt.Errorf("reading series map: %w", err)
	}
	return parse(fsys, raw)
}

func parse(fsys fs.FS, raw []byte) (*Series, error) {
	s := &Series{contents: map[string][]byte{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", MapFile, err)
	}
	if s.Name == "" || s.Module == "" {
		return nil, fmt.Errorf("%s: name and module are required", MapFile)
	}
	if err := module.CheckPath(s.Module); err != nil {
		return nil, fmt.Errorf("%s: %w", MapFile, err)
	}
	for _, b := range s.Baseline {
		if s.Sets[b] == "" {
			return nil, fmt.Errorf("%s: baseline names unknown set %q", MapFile, b)
		}
	}
	seen := map[string]bool{}
	for i, p := range s.Patches {
		where := fmt.Sprintf("%s: patch %d (%q)", MapFile, i+1, p.ID)
		switch {
		case p.ID == "":
			return nil, fmt.Errorf("%s: id is required", where)
		case seen[p.ID]:
			return nil, fmt.Errorf("%s: duplicate id", where)
		case i > 0 && p.ID <= s.Patches[i-1].ID:
			return nil, fmt.Errorf("%s: ids must increase in series order", where)
		case s.Sets[p.Set] == "":
			return nil, fmt.Errorf("%s: unknown set %q", where, p.Set)
		case p.Detect.File == "" || p.Detect.AffectedIfContains == "":
			return nil, fmt.Errorf("%s: detect.file and detect.affected_if_contains are required", where)
		}
		seen[p.ID] = true
		for _, v := range []string{p.Affected.From, p.Affected.Through, p.FixedUpstreamIn} {
			if v != "" && !semver.IsValid(v) {
				return nil, fmt.Errorf("%s: %q is not a module version", where, v)
			}
		}
		if p.FixedUpstreamIn != "" && p.Affected.Contains(p.FixedUpstreamIn) {
			return nil, fmt.Errorf("%s: fixed_upstream_in %s lies inside the affected range", where, p.FixedUpstreamIn)
		}
		if !fs.ValidPath(p.File) {
			return nil, fmt.Errorf("%s: bad file path %q", where, p.File)
		}
		b, err := fs.ReadFile(fsys, p.File)
		if err != nil {
			return nil, fmt.Errorf("%s: patch file missing: %w", where, err)
		}
		if !bytes.Contains(b, []byte("\ndiff --git ")) {
			return nil, fmt.Errorf("%s: %s is not a git patch", where, p.File)
		}
		s.contents[p.ID] = b
	}
	return s, nil
}

// Select returns the patches of the named sets, in series order. An empty
// list selects every set.
func (s *Series) Select(sets []string) ([]*Patch, error) {
	want := map[string]bool{}
	for _, name := range sets {
		if s.Sets[name] == "" {
			names := make([]string, 0, len(s.Sets))
			for n := range s.Sets {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("unknown patch set %q (known: %s)", name, strings.Join(names, ", "))
		}
		want[name] = true
	}
	var out []*Patch
	for _, p := range s.Patches {
		if len(want) == 0 || want[p.Set] {
			out = append(out, p)
		}
	}
	return out, nil
}

// IsBaseline reports whether patch p belongs to a baseline set: one
// applied to stock builds as well as patched ones.
func (s *Series) IsBaseline(p *Patch) bool {
	for _, b := range s.Baseline {
		if p.Set == b {
			return true
		}
	}
	return false
}

// BaselinePatches returns the patches of the baseline sets, in series
// order.
func (s *Series) BaselinePatches() []*Patch {
	var out []*Patch
	for _, p := range s.Patches {
		if s.IsBaseline(p) {
			out = append(out, p)
		}
	}
	return out
}

// WithBaseline returns base followed by the patches of selected that are
// not in base: the order in which a patched build applies them, the
// baseline first (as the stock tree has it) and the fixes on top.
func WithBaseline(base, selected []*Patch) []*Patch {
	in := map[string]bool{}
	out := append([]*Patch(nil), base...)
	for _, p := range base {
		in[p.ID] = true
	}
	for _, p := range selected {
		if !in[p.ID] {
			out = append(out, p)
		}
	}
	return out
}

// Contents returns the bytes of patch p's file.
func (s *Series) Contents(p *Patch) []byte {
	return s.contents[p.ID]
}

// Hash identifies the selected patches: it changes whenever one of their
// files or map entries (affected range, detect rule, ...) changes, or the
// series' name or module, and not when patches outside the selection are
// added or edited, so that adding a parity patch does not change the
// identity, or the cached build, of the core series. It is hex, 64
// characters.
func (s *Series) Hash(selected []*Patch) string {
	h := sha256.New()
	fmt.Fprintf(h, "series %q %q\n", s.Name, s.Module)
	for _, p := range selected {
		entry, err := json.Marshal(p)
		if err != nil {
			panic(fmt.Sprintf("series: marshalling patch %s: %v", p.ID, err)) // a Patch always marshals
		}
		c := s.contents[p.ID]
		fmt.Fprintf(h, "patch %s %d %d\n", p.ID, len(entry), len(c))
		h.Write(entry)
		h.Write(c)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ID is the short series identity stamped into a patched runsc's version:
// the series name, the selected sets and a prefix of the hash, for example
// "restartsys-core-1a2b3c4d5e6f".
func (s *Series) ID(selected []*Patch) string {
	var sets []string
	seen := map[string]bool{}
	for _, p := range selected {
		if !seen[p.Set] {
			seen[p.Set] = true
			sets = append(sets, p.Set)
		}
	}
	if len(sets) == 0 {
		sets = []string{"empty"}
	}
	return s.Name + "-" + strings.Join(sets, "+") + "-" + s.Hash(selected)[:12]
}

// Files returns the tree-relative paths patch p changes, from its
// "diff --git a/X b/X" headers.
func (s *Series) Files(p *Patch) []string {
	var files []string
	for _, line := range strings.Split(string(s.contents[p.ID]), "\n") {
		if rest, ok := strings.CutPrefix(line, "diff --git a/"); ok {
			if i := strings.Index(rest, " b/"); i >= 0 {
				files = append(files, rest[:i])
			}
		}
	}
	return files
}

// Packages returns the tree-relative directories of the Go and assembly
// files the patches change, sorted and without duplicates: the packages whose tests
// must pass with the series applied.
func (s *Series) Packages(selected []*Patch) []string {
	set := map[string]bool{}
	for _, p := range selected {
		for _, f := range s.Files(p) {
			if strings.HasSuffix(f, ".go") || strings.HasSuffix(f, ".s") {
				set[path.Dir(f)] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
