package docs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/module"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
)

// UpstreamForm is what the "Upstream form" part of upstreaming.md is made
// from: patches/upstream (the series against gVisor master) and the
// recorded `upstream verify --record` runs.
type UpstreamForm struct {
	Manifest *upstream.Manifest
	Records  map[string]upstream.Record
	// Required are the snapshots a patch must be verified on before it is
	// called ready (the newest one and 2026-05-18), oldest first.
	Required []gvisor.Version
}

// ReadyVersionDate is the affected snapshot, besides the newest, on which
// every upstream patch's test must be verified.
const ReadyVersionDate = "2026-05-18"

// LoadUpstreamForm reads patches/upstream and docs/upstream-verify.json of
// the repository whose docs directory is docsDir, and names the required
// snapshots from vs (sorted oldest first). A repository without
// patches/upstream has no upstream form (nil).
func LoadUpstreamForm(docsDir string, vs []gvisor.Version) (*UpstreamForm, error) {
	dir := filepath.Join(docsDir, "..", "patches", "upstream")
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil, nil
	}
	man, err := upstream.LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	recs, err := upstream.LoadRecords(filepath.Join(docsDir, upstream.RecordFile))
	if err != nil {
		return nil, err
	}
	f := &UpstreamForm{Manifest: man, Records: recs}
	if v, err := gvisor.Resolve(vs, ReadyVersionDate); err == nil {
		f.Required = append(f.Required, v)
	}
	if len(vs) > 0 && (len(f.Required) == 0 || vs[len(vs)-1].Version != f.Required[0].Version) {
		f.Required = append(f.Required, vs[len(vs)-1])
	}
	return f, nil
}

// derivedFrom returns the upstream patches that carry snapshot patch id.
func (f *UpstreamForm) derivedFrom(id string) []string {
	if f == nil {
		return nil
	}
	var files []string
	for _, p := range f.Manifest.Patches {
		for _, d := range p.DerivedFrom {
			if d == id {
				files = append(files, p.File)
			}
		}
	}
	return files
}

// notReady returns why upstream patch p is not ready to send; none when it
// is: it is ours to send, and on every required snapshot a recorded run
// has each of its cases pass natively and on patched runsc, fail on stock
// where the snapshot has the bug, with no part of the fix missing from
// the snapshot form, and that form is generated from the patch.
func (f *UpstreamForm) notReady(p *upstream.Patch) []string {
	if !p.Send {
		return []string{"not ours to send: " + p.WhyNotSent}
	}
	var why []string
	if p.Issue == nil {
		why = append(why, "no issue text for gVisor's tracker (`issue` in patches/upstream/series.json)")
	}
	if !p.SnapshotDerived() {
		why = append(why, "the patched runsc runs the snapshot form ("+strings.Join(p.DerivedFrom, ", ")+"), which is not generated from this patch: the gtests prove that form, and this patch's own code has only its Go unit tests")
	}
	for _, v := range f.Required {
		rec, ok := f.Records[v.Version]
		if !ok {
			why = append(why, "no `upstream verify --record` run on "+v.Date())
			continue
		}
		seen := map[string]bool{}
		for _, row := range rec.Result.Rows {
			if filepath.Base(row.Patch) != p.File {
				continue
			}
			seen[row.Case] = true
			for _, pr := range row.Problems {
				why = append(why, fmt.Sprintf("%s on %s: %s", row.Case, v.Date(), pr))
			}
			if row.PatchedLacks != "" {
				why = append(why, fmt.Sprintf("%s on %s: the snapshot form lacks part of the fix (%s)", row.Case, v.Date(), row.PatchedLacks))
			}
		}
		for _, c := range p.CaseNames() {
			if !seen[c] {
				why = append(why, fmt.Sprintf("%s was not run on %s", c, v.Date()))
			}
		}
	}
	return why
}

// render writes the "Upstream form" part.
func (f *UpstreamForm) render(w io.Writer) error {
	m := f.Manifest
	fmt.Fprintln(w, "\n## Upstream form against gVisor master (patches/upstream)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "[patches/upstream/](../patches/upstream/) holds the series against gVisor master `%s` (%s), one\n", m.Master, m.MasterDate)
	fmt.Fprintln(w, "`git format-patch` file per change in the order it would be sent, each with its gtest cases in")
	fmt.Fprintln(w, "`test/syscalls/linux`. Its [series.json](../patches/upstream/series.json) maps each case to the")
	fmt.Fprintln(w, "snapshot patch whose bug it shows. The results come from")
	fmt.Fprintf(w, "[%s](%s), written by `go run ./runsc-harness upstream verify --gvisor V --record`:\n", upstream.RecordFile, upstream.RecordFile)
	fmt.Fprintln(w, "each case compiled natively against `syscalltests/gvisortest` and run natively, under stock and under")
	fmt.Fprintln(w, "patched runsc of the snapshot (one sandbox per case, systrap, `--network=none`). A patch is ready")
	var req []string
	for _, v := range f.Required {
		req = append(req, v.Date())
	}
	fmt.Fprintf(w, "when it is ours to send, its snapshot form is generated from it, and, on %s, every case passes\n", strings.Join(req, " and "))
	fmt.Fprintln(w, "natively and on patched runsc and fails on stock where the snapshot has the bug. That `git apply --check` passes on the master commit")
	fmt.Fprintln(w, "is checked in a master checkout, which CI does not have; this page does not check it.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The snapshot patches that `runsc-harness build` applies are generated from these where")
	fmt.Fprintln(w, "series.json says `derive`: `go run ./runsc-harness upstream derive` drops the BUILD and `test/` hunks,")
	fmt.Fprintln(w, "ports what a BUILD edit generates (`declare_mutex`), and writes the result over the snapshot patch;")
	fmt.Fprintln(w, "CI runs it with `--check` and applies the series to every snapshot. A derived patch is never edited by hand.")
	versions := make([]string, 0, len(f.Records))
	for v := range f.Records {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	for _, p := range m.Patches {
		raw, err := os.ReadFile(m.Path(p))
		if err != nil {
			return err
		}
		msg, err := readPatchMessage(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p.File, err)
		}
		fmt.Fprintf(w, "\n### %s\n\n", msg.Subject)
		fmt.Fprintf(w, "- File: [%s](../patches/upstream/%s). Snapshot form: %s", p.File, p.File, strings.Join(p.DerivedFrom, ", "))
		if p.SnapshotDerived() {
			fmt.Fprintf(w, ", generated from it by `runsc-harness upstream derive` against `%s`", m.SnapshotBase)
		}
		fmt.Fprintln(w, ".")
		if why := f.notReady(p); len(why) > 0 {
			fmt.Fprintln(w, "- Ready to send: **no**.")
			for _, y := range why {
				fmt.Fprintf(w, "  - %s\n", y)
			}
		} else {
			fmt.Fprintln(w, "- Ready to send: yes.")
		}
		tests, err := upstream.GoTests(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p.File, err)
		}
		if len(tests) > 0 {
			fmt.Fprintf(w, "- Go tests: %s.\n", upstream.FormatGoTests(tests))
		} else {
			fmt.Fprintln(w, "- Go tests: none; the gtest cases below are its tests.")
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "| case | bug |")
		for _, v := range versions {
			fmt.Fprintf(w, " %s native / stock / patched |", dateOf(v))
		}
		fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---|", len(versions)))
		for _, c := range p.CaseNames() {
			bug := p.Cases[c].Bug
			if bug == "" {
				bug = "guard"
			}
			fmt.Fprintf(w, "| %s | %s |", c, bug)
			for _, v := range versions {
				fmt.Fprintf(w, " %s |", cellOf(f.Records[v], p.File, c))
			}
			fmt.Fprintln(w)
		}
		if p.Issue != nil {
			renderIssue(w, p.Issue)
		}
	}
	if len(versions) > 0 {
		fmt.Fprintln(w, "\nRuns recorded:")
		fmt.Fprintln(w)
		for _, v := range versions {
			r := f.Records[v]
			fmt.Fprintf(w, "- %s (`%s`), %s: `%s`\n", dateOf(v), v, r.Measured, r.Command)
		}
	}
	return nil
}

// renderIssue writes the text of a patch's issue for gVisor's tracker, in
// a fence that can be copied as it is.
func renderIssue(w io.Writer, is *upstream.Issue) {
	fmt.Fprintln(w)
	if is.Existing != "" {
		fmt.Fprintf(w, "Comment to post on %s, gVisor's issue for this bug:\n\n", is.Existing)
	} else {
		fmt.Fprintln(w, "Issue to open on github.com/google/gvisor:")
		fmt.Fprintln(w)
	}
	lang := ""
	if strings.Contains(is.Reproducer, "#include") {
		lang = "c"
	}
	fmt.Fprintln(w, "````markdown")
	fmt.Fprintf(w, "**%s**\n\n", is.Title)
	fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(is.Symptom))
	fmt.Fprintln(w, "Reproducer:")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "```%s\n%s\n```\n\n", lang, strings.TrimRight(is.Reproducer, "\n"))
	fmt.Fprintf(w, "On Linux: %s\n", strings.TrimSpace(is.Linux))
	fmt.Fprintln(w, "````")
}

// cellOf is one case's native / stock / patched statuses in a record.
func cellOf(rec upstream.Record, file, c string) string {
	if rec.Result == nil {
		return "not run"
	}
	for _, row := range rec.Result.Rows {
		if filepath.Base(row.Patch) != file || row.Case != c {
			continue
		}
		var s []string
		for _, place := range []string{"native", "stock", "patched"} {
			st := string(row.Results[place].Status)
			if st == "" {
				st = "—"
			}
			s = append(s, st)
		}
		cell := strings.Join(s, " / ")
		if len(row.Problems) > 0 {
			cell += " ✗"
		}
		return cell
	}
	return "not run"
}

// dateOf is the commit date of a pseudo-version, or the version itself.
func dateOf(version string) string {
	t, err := module.PseudoVersionTime(version)
	if err != nil {
		return version
	}
	return t.UTC().Format("2006-01-02")
}
