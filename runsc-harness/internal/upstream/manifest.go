// Package upstream checks the gVisor-master form of the series
// (patches/upstream): it extracts the syscall test cases each patch adds to
// test/syscalls/linux, compiles them natively against restartsys's own
// test/util layer (syscalltests/gvisortest), and runs each case natively,
// under stock runsc and under patched runsc, one sandbox per case, as
// gVisor's runner does.
package upstream

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ManifestFile is the name of the upstream series' map in its directory.
const ManifestFile = "series.json"

// Manifest is patches/upstream/series.json.
type Manifest struct {
	// Master is the gVisor master commit every patch applies to, in order.
	Master string `json:"master"`
	// SnapshotBase is the gvisor.dev/gvisor module version the derived
	// snapshot patches are made against (see Derive); the series map says
	// which other versions they apply to.
	SnapshotBase string `json:"snapshot_base,omitempty"`
	// MasterDate is Master's commit date.
	MasterDate string `json:"master_date"`
	// Note explains the file.
	Note string `json:"note,omitempty"`
	// Patches are the patches in the order they would be sent.
	Patches []*Patch `json:"patches"`

	// dir is the directory the manifest was read from.
	dir string
}

// Patch is one upstream patch.
type Patch struct {
	// File is the patch file, relative to the manifest's directory.
	File string `json:"file"`
	// Send says whether the patch is ours to send.
	Send bool `json:"send"`
	// WhyNotSent says why a patch with Send false is in the series.
	WhyNotSent string `json:"why_not_sent,omitempty"`
	// DerivedFrom names the patches of the snapshot series (series.json)
	// that carry the same change for the Go-module snapshots.
	DerivedFrom []string `json:"derived_from"`
	// Derive lists the snapshot patches generated from this one by
	// Derive, in the order they are made.
	Derive []Derivation `json:"derive,omitempty"`
	// Cases maps each test case the patch adds ("Suite.Name") to what is
	// expected of it.
	Cases map[string]Case `json:"cases"`
	// Issue is the GitHub issue to open for the bug the patch fixes (or
	// to comment on, if gVisor has one already); a patch that is ours to
	// send is not ready without it.
	Issue *Issue `json:"issue,omitempty"`
}

// Issue is the text of an issue for gVisor's tracker: what a user sees, the
// smallest program that shows it, and what Linux does instead.
type Issue struct {
	// Title is the issue's title.
	Title string `json:"title"`
	// Existing names gVisor's issue for the same bug, if there is one:
	// the text is then a comment to post there.
	Existing string `json:"existing,omitempty"`
	// Symptom is what a program sees under runsc.
	Symptom string `json:"symptom"`
	// Reproducer is a minimal C program, or the steps, that show it.
	Reproducer string `json:"reproducer"`
	// Linux is what Linux does, naming the kernel function.
	Linux string `json:"linux"`
}

// Case is what is expected of one test case.
type Case struct {
	// Bug names the snapshot series patch whose bug the case shows; stock
	// runsc of a version that patch calls affected must fail the case.
	// Empty for a guard that must pass everywhere.
	Bug string `json:"bug,omitempty"`
	// PatchedLacks, if set, says why the snapshot form of the series does
	// not fix what the case checks yet: patched runsc is expected to fail
	// it, and passing it is reported as stale.
	PatchedLacks string `json:"patched_lacks,omitempty"`
}

// LoadManifest reads dir/series.json and checks that every patch file
// exists.
func LoadManifest(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("upstream series: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("upstream series %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if len(m.Master) != 40 {
		return nil, fmt.Errorf("upstream series: master %q is not a full commit hash", m.Master)
	}
	m.dir = dir
	for _, p := range m.Patches {
		if _, err := os.Stat(m.Path(p)); err != nil {
			return nil, fmt.Errorf("upstream series: %w", err)
		}
		if len(p.Cases) == 0 {
			return nil, fmt.Errorf("upstream series: %s names no test case", p.File)
		}
	}
	return &m, nil
}

// SnapshotDerived reports whether every snapshot patch named by DerivedFrom
// is generated from p, so that the patched runsc runs p's own code. Until
// it is, a gtest that passes on patched runsc proves the snapshot form, not
// p.
func (p *Patch) SnapshotDerived() bool {
	if len(p.DerivedFrom) == 0 {
		return false
	}
	for _, id := range p.DerivedFrom {
		if !p.derives(id) {
			return false
		}
	}
	return true
}

// derives reports whether p generates snapshot patch id.
func (p *Patch) derives(id string) bool {
	for _, d := range p.Derive {
		if d.ID == id {
			return true
		}
	}
	return false
}

// Path returns the path of p's file.
func (m *Manifest) Path(p *Patch) string { return filepath.Join(m.dir, p.File) }

// CaseNames returns p's case names, sorted.
func (p *Patch) CaseNames() []string {
	var names []string
	for n := range p.Cases {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
