package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restartsys/restartsys/runsc-harness/internal/build"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

func init() {
	register(&command{
		name:     "docs",
		synopsis: "generate docs/affected-versions.md and docs/upstreaming.md from the series and real runs",
		run:      runDocs,
	})
}

// stormRecord is the storm result of one gVisor version, as measured by
// `docs --storm`; docs/affected-versions.json keeps them between runs.
type stormRecord struct {
	Version      string `json:"version"`
	Measured     string `json:"measured"`
	Command      string `json:"command"`
	SeriesID     string `json:"series_id"`
	StockStamp   string `json:"stock_stamp"`
	PatchedStamp string `json:"patched_stamp"`
	// Sets are the patch sets of the patched runsc (--sets).
	Sets string `json:"sets,omitempty"`
	// NeedsCompat is set when both binaries carry the compat set.
	NeedsCompat bool `json:"needs_compat,omitempty"`
	// StockBoot and PatchedBoot say what guest ran under each binary in
	// its build's boot check.
	StockBoot   string        `json:"stock_boot,omitempty"`
	PatchedBoot string        `json:"patched_boot,omitempty"`
	Cases       []stormResult `json:"cases,omitempty"`
	// Matrix is the matrix under patched runsc (verify --matrix).
	Matrix *matrixRecord `json:"matrix,omitempty"`
	// Error is set when the version could not be built or run.
	Error string `json:"error,omitempty"`
}

// stormResult is one storm case under stock and patched runsc.
type stormResult struct {
	Shape   string `json:"shape"`
	Stock   string `json:"stock"`
	Patched string `json:"patched"`
}

func runDocs(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	dir := fs.String("dir", "docs", "documentation directory")
	storm := fs.String("storm", "none", "versions to build and storm for the table: none, all, or a comma-separated list of versions/dates")
	duration := fs.Duration("duration", 3*time.Second, "storm duration per case, with --storm")
	check := fs.Bool("check", false, "do not write: fail if the files on disk differ from what would be generated")
	cache := fs.String("cache", build.DefaultCacheDir(), "build cache directory, with --storm")
	var sf seriesFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness docs [--check] [--storm none|all|V1,V2] [--duration D] [--dir DIR]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *storm != "none" {
		if err := checkGVisorSpec("storm", *storm, true); err != nil {
			return err
		}
		if *check {
			return usagef("--check re-renders recorded runs; it does not take --storm")
		}
	}
	if _, _, err := sf.load(); err != nil {
		return err
	}
	vs, _, err := knownVersions(ctx, os.Stderr)
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(*dir, "affected-versions.json")
	records, err := loadStormRecords(jsonPath)
	if err != nil {
		return err
	}
	if *storm != "none" {
		if *check {
			return errors.New("--check re-renders recorded runs; it does not take --storm")
		}
		if err := sandbox.CheckRoot(); err != nil {
			return err
		}
		targets := vs
		if *storm != "all" {
			targets = nil
			for _, spec := range strings.Split(*storm, ",") {
				v, err := gvisor.Resolve(vs, spec)
				if err != nil {
					return err
				}
				targets = append(targets, v)
			}
		}
		for _, v := range targets {
			rec := measureStorm(ctx, v, &sf, *cache, *duration)
			records[v.Version] = rec
			// Save after each version: a long run that is stopped keeps
			// what it measured.
			if err := saveStormRecords(jsonPath, records); err != nil {
				return err
			}
		}
	}

	return writeDocsChecked(ctx, *dir, &sf, records, vs, *check)
}

// writeDocs regenerates docs/affected-versions.md and docs/upstreaming.md
// in dir from the series and the recorded runs.
func writeDocs(ctx context.Context, dir string, sf *seriesFlags, records map[string]stormRecord, vs []gvisor.Version) error {
	return writeDocsChecked(ctx, dir, sf, records, vs, false)
}

// writeDocsChecked is writeDocs; with check it writes nothing and fails if
// a file on disk differs from what it would write.
func writeDocsChecked(ctx context.Context, dir string, sf *seriesFlags, records map[string]stormRecord, vs []gvisor.Version, check bool) error {
	ser, sel, err := sf.load()
	if err != nil {
		return err
	}
	var aff, up bytes.Buffer
	if err := renderAffected(ctx, &aff, ser, sel, vs, records); err != nil {
		return err
	}
	if err := renderUpstreaming(&up, ser); err != nil {
		return err
	}
	files := map[string][]byte{
		filepath.Join(dir, "affected-versions.md"): aff.Bytes(),
		filepath.Join(dir, "upstreaming.md"):       up.Bytes(),
	}
	var stale []string
	for path, want := range files {
		if check {
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				stale = append(stale, path)
			}
			continue
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	}
	if len(stale) > 0 {
		return fmt.Errorf("out of date (regenerate with `go run ./runsc-harness docs`): %s", strings.Join(stale, ", "))
	}
	return nil
}

func loadStormRecords(path string) (map[string]stormRecord, error) {
	out := map[string]stormRecord{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var list []stormRecord
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range list {
		out[r.Version] = r
	}
	return out, nil
}

func saveStormRecords(path string, records map[string]stormRecord) error {
	list := make([]stormRecord, 0, len(records))
	for _, r := range records {
		list = append(list, r)
	}
	// Versions sort by time: pseudo-versions share the v0.0.0- prefix.
	slices.SortFunc(list, func(a, b stormRecord) int { return strings.Compare(a.Version, b.Version) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// stampSeriesID returns the series id of a patched runsc's version line,
// "runsc version V+<series id>.<patch ids>", or "" if it has none.
func stampSeriesID(stamp string) string {
	_, after, ok := strings.Cut(stamp, "+")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, ".")
	return strings.TrimSpace(id)
}

// measureStorm builds stock and patched runsc for v and runs the storm
// under both. A failure is recorded, not returned: the table says it.
func measureStorm(ctx context.Context, v gvisor.Version, sf *seriesFlags, cache string, d time.Duration) stormRecord {
	rec := stormRecord{
		Version:  v.Version,
		Measured: time.Now().UTC().Format("2006-01-02"),
		Command:  fmt.Sprintf("runsc-harness docs --storm %s --duration %s --sets %s", v.Date(), d, sf.sets),
	}
	guestTimeout := 3*d + 30*time.Second
	c := &runConfig{
		guests: []string{"storm"}, gvisor: v.Version, sets: *sf, cache: cache,
		variants:  []sandbox.Variant{{Platform: "systrap", Network: "none", DirectFS: "default"}},
		timeout:   guestTimeout + time.Minute,
		guestArgs: []string{"-duration", d.String(), "-timeout", guestTimeout.String()},
		out:       filepath.Join(os.TempDir(), "restartsys-docs-"+v.Date()),
	}
	doc, err := runGuests(ctx, c)
	if err != nil {
		rec.Error = firstLine(err.Error())
		return rec
	}
	defer os.RemoveAll(c.out)
	for _, r := range c.runtimes {
		switch r.kind {
		case report.Stock:
			rec.StockStamp = runscVersion(ctx, r.path)
		case report.Patched:
			rec.PatchedStamp = runscVersion(ctx, r.path)
			rec.SeriesID = stampSeriesID(rec.PatchedStamp)
		}
	}
	rec.Cases = stormResults(doc)
	return rec
}

func renderAffected(ctx context.Context, w io.Writer, ser *series.Series, sel []*series.Patch, vs []gvisor.Version, records map[string]stormRecord) error {
	fmt.Fprintln(w, "# Affected gVisor versions")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Generated by `go run ./runsc-harness docs` — do not edit by hand. The patch columns come from")
	fmt.Fprintln(w, "applying the series to each snapshot's source (what `runsc-harness check` does); the other columns")
	fmt.Fprintln(w, "come from real runs recorded in [affected-versions.json](affected-versions.json) by")
	fmt.Fprintln(w, "`runsc-harness verify --gvisor <versions|all>` (or `docs --storm`), each with its date and command.")
	fmt.Fprintln(w, "A snapshot is supported only where its row shows both binaries booting and the storm run.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Patch columns: **patched by us** — the snapshot has the bug and the patch applies; **fixed upstream** —")
	fmt.Fprintln(w, "the snapshot's own source no longer has the bug; **FAILED** — has the bug, the patch does not apply;")
	fmt.Fprintln(w, "**n/a** — the snapshot lies outside the patch's range and lacks the code it changes (another patch may carry the fix there).")
	fmt.Fprintln(w, "The compat patches (set `compat`, 02xx) go into the stock and the patched runsc alike: without them")
	fmt.Fprintln(w, "a runsc built from that snapshot with Go 1.25 or later panics on its first blocking call.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run columns: **boots** — the build's boot check ran the storm guest under the binary (systrap);")
	fmt.Fprintln(w, "**storm** — the bootstrap storm's cases (sync-socket probe, exec-FIFO open both ways) compared with")
	fmt.Fprintln(w, "native Linux, systrap platform; **matrix** — the signal(7) matrix under patched runsc compared with")
	fmt.Fprintln(w, "native Linux, divergences listed in `syscalltests/matrix/expected.json` excepted.")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| snapshot | date |")
	for _, p := range sel {
		fmt.Fprintf(w, " %s |", p.ID)
	}
	fmt.Fprintln(w, " stock boots | patched boots | storm, stock | storm, patched | matrix, patched | measured |")
	fmt.Fprint(w, "|---|---|")
	for range sel {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w, "---|---|---|---|---|---|")
	for _, v := range vs {
		mod, err := gvisor.Download(ctx, v.Version)
		if err != nil {
			return err
		}
		plan, err := ser.Plan(ctx, mod.Dir, v.Version, sel)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| `%s` | %s |", v.Version, v.Date())
		for _, d := range plan {
			cell := map[series.Status]string{series.Apply: "patched by us", series.Upstream: "fixed upstream", series.Failed: "**FAILED**", series.NotHere: "n/a"}[d.Status]
			if d.MapDisagrees {
				cell += " (map disagrees)"
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		rec, ok := records[v.Version]
		switch {
		case !ok:
			fmt.Fprintln(w, " not run | not run | not measured | not measured | not measured | |")
		case rec.Error != "":
			fmt.Fprintf(w, " error | error | error | error | error | %s: %s |\n", rec.Measured, mdEscape(firstLine(rec.Error)))
		default:
			fmt.Fprintf(w, " %s | %s | %s | %s | %s | %s |\n", bootCell(rec.StockBoot), bootCell(rec.PatchedBoot),
				sumStorm(rec.Cases, true), sumStorm(rec.Cases, false), matrixCell(rec.Matrix), rec.Measured)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Patches")
	fmt.Fprintln(w)
	for _, p := range sel {
		fmt.Fprintf(w, "- `%s` [%s] %s\n", p.ID, p.Set, p.Summary)
	}
	var measured []stormRecord
	for _, v := range vs {
		if r, ok := records[v.Version]; ok && r.Error == "" {
			measured = append(measured, r)
		}
	}
	if len(measured) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "## Runs, per snapshot")
		for _, r := range measured {
			fmt.Fprintf(w, "\n### %s\n\nMeasured %s with `%s`.\nStock: `%s`; patched: `%s`.\n", r.Version, r.Measured, r.Command, r.StockStamp, r.PatchedStamp)
			if r.StockBoot != "" || r.PatchedBoot != "" {
				fmt.Fprintf(w, "Boot check, stock: %s; patched: %s.\n", orNone(r.StockBoot), orNone(r.PatchedBoot))
			}
			if m := r.Matrix; m != nil {
				fmt.Fprintf(w, "Matrix on patched: %d cells, %d divergences, %d beyond expected.json", m.Cells, m.Divergences, m.Unexpected)
				if len(m.UnexpectedCells) > 0 {
					fmt.Fprintf(w, " (%s)", strings.Join(m.UnexpectedCells, ", "))
				}
				if m.Failure != "" {
					fmt.Fprintf(w, "; failed: %s", mdEscape(firstLine(m.Failure)))
				}
				fmt.Fprintln(w, ".")
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| case | stock | patched |")
			fmt.Fprintln(w, "|---|---|---|")
			for _, c := range r.Cases {
				fmt.Fprintf(w, "| %s | %s | %s |\n", c.Shape, c.Stock, c.Patched)
			}
		}
	}
	return nil
}

// bootCell renders a boot record for the table.
func bootCell(booted string) string {
	if booted == "" {
		return "not recorded"
	}
	return "yes"
}

func orNone(s string) string {
	if s == "" {
		return "not recorded"
	}
	return s
}

// matrixCell renders the matrix record for the table.
func matrixCell(m *matrixRecord) string {
	switch {
	case m == nil:
		return "not run"
	case m.Failure != "":
		return "**failed**"
	case m.Unexpected > 0:
		return fmt.Sprintf("**%d beyond expected** (%d cells)", m.Unexpected, m.Cells)
	}
	return fmt.Sprintf("ok: %d cells, %d expected", m.Cells, m.Divergences)
}

// sumBad counts a version's storm cases that differ from Linux on one side.
func sumBad(cases []stormResult, stock bool) int {
	bad := 0
	for _, c := range cases {
		s := c.Patched
		if stock {
			s = c.Stock
		}
		if strings.Contains(s, "differs from Linux") || strings.HasPrefix(s, "run failed") || strings.HasPrefix(s, "missing") {
			bad++
		}
	}
	return bad
}

// sumStorm condenses a version's storm cases for one side: "ok" when no
// case differs from Linux, otherwise how many do.
func sumStorm(cases []stormResult, stock bool) string {
	if len(cases) == 0 {
		return "not measured"
	}
	if bad := sumBad(cases, stock); bad > 0 {
		return fmt.Sprintf("**differs from Linux in %d/%d cases**", bad, len(cases))
	}
	return fmt.Sprintf("ok in %d/%d cases", len(cases), len(cases))
}

// printVerifyTable prints the table of verify --gvisor all: one row per
// snapshot.
func printVerifyTable(w io.Writer, vs []gvisor.Version, records map[string]stormRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "snapshot\tcompat\tstock boots\tpatched boots\tstorm, stock\tstorm, patched\tmatrix, patched")
	for _, v := range vs {
		r := records[v.Version]
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\n", v.Date(), firstLine(r.Error))
			continue
		}
		compat := "-"
		if r.NeedsCompat {
			compat = "yes"
		}
		strip := strings.NewReplacer("**", "")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Date(), compat, bootCell(r.StockBoot), bootCell(r.PatchedBoot),
			strip.Replace(sumStorm(r.Cases, true)), strip.Replace(sumStorm(r.Cases, false)), strip.Replace(matrixCell(r.Matrix)))
	}
	tw.Flush()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// patchMessage is a patch file's subject and body.
type patchMessage struct {
	Subject, Body string
}

// readPatchMessage parses a git format-patch file's mail headers and the
// message body that precedes the "---" separator.
func readPatchMessage(patch []byte) (patchMessage, error) {
	// Skip the mbox "From <hash> <date>" line.
	if i := bytes.IndexByte(patch, '\n'); bytes.HasPrefix(patch, []byte("From ")) && i >= 0 {
		patch = patch[i+1:]
	}
	msg, err := mail.ReadMessage(bytes.NewReader(patch))
	if err != nil {
		return patchMessage{}, err
	}
	subject := msg.Header.Get("Subject")
	if strings.HasPrefix(subject, "[PATCH") {
		if i := strings.Index(subject, "] "); i >= 0 {
			subject = subject[i+2:]
		}
	}
	var body []string
	sc := bufio.NewScanner(msg.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() == "---" {
			break
		}
		body = append(body, sc.Text())
	}
	return patchMessage{Subject: subject, Body: strings.TrimSpace(strings.Join(body, "\n"))}, sc.Err()
}

func renderUpstreaming(w io.Writer, ser *series.Series) error {
	fmt.Fprintln(w, "# Upstreaming the series")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Generated by `go run ./runsc-harness docs` from [patches/series.json](../patches/series.json) and the")
	fmt.Fprintln(w, "patch files — do not edit by hand. Each patch is one logical change in `git format-patch` form; send")
	fmt.Fprintln(w, "it with `git am` onto a gVisor checkout, then port its test to gVisor's `test/syscalls` as noted.")
	fmt.Fprintln(w, "The Go unit test each patch adds lives in the package it changes and fails without the change.")
	for _, p := range ser.Patches {
		m, err := readPatchMessage(ser.Contents(p))
		if err != nil {
			return fmt.Errorf("patch %s: %w", p.ID, err)
		}
		fmt.Fprintf(w, "\n## %s — %s\n\n", p.ID, m.Subject)
		fmt.Fprintf(w, "- Set: `%s`. File: [%s](../patches/%s).\n", p.Set, filepath.Base(p.File), p.File)
		if p.FixedUpstreamIn != "" {
			fmt.Fprintf(w, "- Upstream status: fixed upstream from `%s` by upstream's own change; this patch serves releases before it. Not to be sent.\n", p.FixedUpstreamIn)
		} else {
			fmt.Fprintln(w, "- Upstream status: not upstream in any known snapshot; ready to send.")
		}
		fmt.Fprintf(w, "- Changes: %s.\n", "`"+strings.Join(ser.Files(p), "`, `")+"`")
		if p.UpstreamTest != "" {
			fmt.Fprintf(w, "- gVisor test to port to: %s.\n", p.UpstreamTest)
		}
		if p.TestDescription != "" {
			fmt.Fprintf(w, "- Test case: %s\n", p.TestDescription)
		}
		fmt.Fprintf(w, "\nCommit message:\n\n```\n%s\n\n%s\n```\n", m.Subject, m.Body)
	}
	return nil
}
