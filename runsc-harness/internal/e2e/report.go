package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/restartsys/restartsys/runsc-harness/internal/junit"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

// Schema is the version of the e2e JSON document.
const Schema = 1

// Document is a whole `e2e runc` run: its settings and one Result per
// runsc.
type Document struct {
	Schema int `json:"schema"`
	// GVisor is the gVisor module version (empty with --runsc only).
	GVisor string `json:"gvisor,omitempty"`
	// RuncVersion and RuncTags say which runc ran.
	RuncVersion string `json:"runc_version"`
	RuncTags    string `json:"runc_tags"`
	// Runs and Execs are the operations asked per mode.
	Runs  int    `json:"runs"`
	Execs int    `json:"execs"`
	Modes []Mode `json:"modes"`
	// StormInterval is the SIGURG period of the storm mode.
	StormInterval string `json:"storm_interval"`
	// Platform is the runsc platform.
	Platform string   `json:"platform"`
	Results  []Result `json:"results"`
	// Client is what drove runsc: "" (runc, e2e runc), ClientDocker or
	// ClientContainerd; ClientVersion is its version.
	Client        string `json:"client,omitempty"`
	ClientVersion string `json:"client_version,omitempty"`
	// Affected, when set, says per operation whether the series map says
	// stock runsc of GVisor has the bug that operation can hit: the stock
	// storm must then fail that operation at least once, and need not fail
	// the others. Without it, stock must fail something under the storm.
	Affected map[Op]bool `json:"affected,omitempty"`
}

// The clients besides runc itself.
const (
	// ClientDocker is docker exec and docker run in a Docker-in-Docker
	// container under runsc.
	ClientDocker = "docker"
	// ClientContainerd is ctr run and ctr task exec through containerd
	// and gVisor's shim.
	ClientContainerd = "containerd"
)

// suiteClient names the client in JUnit suite names.
func (d *Document) suiteClient() string {
	if d.Client == "" {
		return "runc"
	}
	return d.Client
}

// Problems lists what makes the run fail its verdict: a sandbox run that
// did not finish, any failure under patched runsc, a stock runsc that had
// no failure under the storm (then the storm proved nothing), or a mode
// whose long-lived container did not start.
func (d *Document) Problems() []string {
	var p []string
	for _, r := range d.Results {
		if r.Failure != "" {
			p = append(p, fmt.Sprintf("%s: sandbox run failed: %s", r.Name, r.Failure))
		}
		for _, s := range r.Stats {
			if s.Setup != "" && r.Kind == report.Patched {
				p = append(p, fmt.Sprintf("%s: %s/%s: setup failed: %s", r.Name, s.Op, s.Mode, s.Setup))
			}
			if r.Kind == report.Patched && s.Failures > 0 {
				p = append(p, fmt.Sprintf("%s: %s/%s: %d of %d failed (%s)", r.Name, s.Op, s.Mode, s.Failures, s.Runs, topError(s)))
			}
		}
		if r.Kind == report.Stock {
			p = append(p, d.stockMisses(r)...)
		}
	}
	return p
}

// stockMisses says where stock runsc r should have failed under the storm
// and did not: with Affected, each operation the series map has affected;
// without, anything at all.
func (d *Document) stockMisses(r Result) []string {
	var p []string
	if d.Affected != nil {
		for _, op := range Ops {
			if s := r.Stat(op, ModeStorm); d.Affected[op] && s != nil && s.Runs > 0 && s.Failures == 0 {
				p = append(p, fmt.Sprintf("%s: no failure in %d %s under the storm, though the series map says gVisor %s is affected: it caught nothing, so it proves nothing here", r.Name, s.Runs, d.opName(op), d.GVisor))
			}
		}
		return p
	}
	failures, runs := 0, 0
	for _, s := range r.Stats {
		if s.Mode == ModeStorm {
			failures, runs = failures+s.Failures, runs+s.Runs
		}
	}
	if runs > 0 && failures == 0 {
		p = append(p, fmt.Sprintf("%s: no failure in %d operations under the storm: it caught nothing, so it proves nothing here", r.Name, runs))
	}
	return p
}

// Verdict says in one sentence what a run without Problems showed.
func (d *Document) Verdict() string {
	stockStorm, stock, patched := 0, false, false
	for _, r := range d.Results {
		switch r.Kind {
		case report.Stock:
			stock = true
			for _, s := range r.Stats {
				if s.Mode == ModeStorm {
					stockStorm += s.Failures
				}
			}
		case report.Patched:
			patched = true
		}
	}
	var parts []string
	if stock && stockStorm > 0 {
		parts = append(parts, fmt.Sprintf("stock runsc fails under the storm (%d failures)", stockStorm))
	} else if stock {
		parts = append(parts, "stock runsc measured (no storm mode)")
	}
	if patched {
		parts = append(parts, "patched runsc has no failure")
	}
	return strings.Join(parts, "; ") + "."
}

// topError is the most frequent error of s.
func topError(s Stat) string {
	errs := sortedErrors(s)
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d× %s", s.Errors[errs[0]], errs[0])
}

// sortedErrors lists the errors of s, most frequent first.
func sortedErrors(s Stat) []string {
	var errs []string
	for e := range s.Errors {
		errs = append(errs, e)
	}
	sort.Slice(errs, func(i, j int) bool {
		if s.Errors[errs[i]] != s.Errors[errs[j]] {
			return s.Errors[errs[i]] > s.Errors[errs[j]]
		}
		return errs[i] < errs[j]
	})
	return errs
}

// cell renders a stat as "failures/runs" with the mean time.
func cell(s *Stat) string {
	switch {
	case s == nil:
		return "—"
	case s.Setup != "":
		return "setup failed"
	}
	return fmt.Sprintf("%d/%d fail, %.0f ms", s.Failures, s.Runs, s.MeanMS)
}

// WriteTable prints the side-by-side table: one row per (op, mode), one
// column per runsc, then the distinct errors.
func WriteTable(w io.Writer, d *Document) {
	fmt.Fprintf(w, "\n%s inside runsc (gVisor %s, %s); failures/runs and mean time per run\n\n", d.client(), orDash(d.GVisor), d.Platform)
	for _, r := range d.Results {
		if r.RunscVersion != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Name, r.RunscVersion)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "op\tmode")
	for _, r := range d.Results {
		fmt.Fprintf(tw, "\t%s", r.Name)
	}
	fmt.Fprintln(tw)
	for _, op := range d.ops() {
		for _, m := range d.Modes {
			fmt.Fprintf(tw, "%s\t%s", d.opName(op), m)
			for i := range d.Results {
				fmt.Fprintf(tw, "\t%s", cell(d.Results[i].Stat(op, m)))
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	for _, r := range d.Results {
		if r.Failure != "" {
			fmt.Fprintf(w, "\n%s: sandbox run failed: %s\n", r.Name, r.Failure)
		}
		for _, s := range r.Stats {
			if s.Setup != "" {
				fmt.Fprintf(w, "\n%s %s/%s: setup failed: %s\n", r.Name, s.Op, s.Mode, s.Setup)
			}
			errs := sortedErrors(s)
			if len(errs) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n%s %s/%s errors:\n", r.Name, d.opName(s.Op), s.Mode)
			for _, e := range errs {
				fmt.Fprintf(w, "  %5d  %s\n", s.Errors[e], e)
			}
			if d.Client == ClientDocker {
				fmt.Fprintf(w, "  dockerd logged the field message %d times, first: %s\n", s.DaemonLines, orDash(s.DaemonSample))
			}
		}
	}
	fmt.Fprintln(w)
}

// ops lists the operations the run asked for (Runs, Execs), in report
// order.
func (d *Document) ops() []Op {
	var ops []Op
	if d.Runs > 0 {
		ops = append(ops, OpRun)
	}
	if d.Execs > 0 {
		ops = append(ops, OpExec)
	}
	return ops
}

// opName names op as the client runs it ("runc exec -d", "docker exec").
func (d *Document) opName(op Op) string {
	switch {
	case d.Client == ClientDocker:
		return "docker " + string(op)
	case d.Client == ClientContainerd && op == OpExec:
		return "ctr task exec"
	case d.Client == ClientContainerd:
		return "ctr run -d"
	case op == OpExec:
		return "runc exec -d"
	}
	return "runc " + string(op)
}

// client names what ran inside (or in front of) runsc.
func (d *Document) client() string {
	switch d.Client {
	case ClientDocker:
		return "Docker " + d.ClientVersion + " (in a Docker-in-Docker container), runc " + d.RuncVersion
	case ClientContainerd:
		return "containerd " + d.ClientVersion + " with containerd-shim-runsc-v1"
	}
	return "runc " + d.RuncVersion
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteJSON writes d as indented JSON.
func WriteJSON(w io.Writer, d *Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteMarkdown writes the side-by-side table and the distinct errors.
func WriteMarkdown(w io.Writer, d *Document) error {
	fmt.Fprintf(w, "# %s inside runsc\n\n", d.client())
	fmt.Fprintf(w, "gVisor %s, platform %s, runc tags `%s`, %d `%s` and %d `%s` per mode, storm: SIGURG to every runc thread every %s.\n\n",
		orDash(d.GVisor), d.Platform, d.RuncTags, d.Runs, d.opName(OpRun), d.Execs, d.opName(OpExec), d.StormInterval)
	for _, r := range d.Results {
		if r.RunscVersion != "" {
			fmt.Fprintf(w, "- **%s**: `%s`, `%s`\n", r.Name, r.Runsc, r.RunscVersion)
		}
	}
	fmt.Fprint(w, "\n| operation | mode |")
	for _, r := range d.Results {
		fmt.Fprintf(w, " %s |", r.Name)
	}
	fmt.Fprint(w, "\n|---|---|")
	for range d.Results {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, op := range d.ops() {
		for _, m := range d.Modes {
			fmt.Fprintf(w, "| `%s` | %s |", d.opName(op), m)
			for i := range d.Results {
				fmt.Fprintf(w, " %s |", cell(d.Results[i].Stat(op, m)))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, "\n(failures/runs, mean wall time of one command)")
	fmt.Fprintln(w, "\n## Errors")
	seen := false
	for _, r := range d.Results {
		if r.Failure != "" {
			seen = true
			fmt.Fprintf(w, "\n- **%s**: sandbox run failed: %s\n", r.Name, mdEscape(r.Failure))
		}
		for _, s := range r.Stats {
			if s.Setup != "" {
				seen = true
				fmt.Fprintf(w, "\n- **%s** `%s` %s: setup failed: `%s`\n", r.Name, d.opName(s.Op), s.Mode, s.Setup)
			}
			errs := sortedErrors(s)
			if len(errs) == 0 {
				continue
			}
			seen = true
			fmt.Fprintf(w, "\n**%s** `%s` %s:\n\n| count | error |\n|---:|---|\n", r.Name, d.opName(s.Op), s.Mode)
			for _, e := range errs {
				fmt.Fprintf(w, "| %d | `%s` |\n", s.Errors[e], strings.ReplaceAll(e, "|", `\|`))
			}
		}
	}
	if !seen {
		fmt.Fprintln(w, "\nnone")
	}
	if d.Client == ClientDocker {
		fmt.Fprintln(w, "\n## dockerd's log\n\nLines of the inner dockerd's log carrying the field message (`"+FieldError+"`), per runsc, operation and mode.\n\n| runsc | operation | mode | lines | first |\n|---|---|---|---:|---|")
		for _, r := range d.Results {
			for _, s := range r.Stats {
				fmt.Fprintf(w, "| %s | `%s` | %s | %d | %s |\n", r.Name, d.opName(s.Op), s.Mode, s.DaemonLines, mdCode(s.DaemonSample))
			}
		}
	}
	fmt.Fprintln(w, "\n## Time per run (ms)")
	fmt.Fprintln(w, "\n| runsc | operation | mode | runs | mean | p50 | p95 | max | total | SIGURGs sent |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range d.Results {
		for _, s := range r.Stats {
			fmt.Fprintf(w, "| %s | `%s` | %s | %d | %.1f | %d | %d | %d | %d | %d |\n",
				r.Name, d.opName(s.Op), s.Mode, s.Runs, s.MeanMS, s.P50MS, s.P95MS, s.MaxMS, s.TotalMS, s.Signals)
		}
	}
	if p := d.Problems(); len(p) > 0 {
		fmt.Fprintln(w, "\n## Verdict: problems")
		for _, s := range p {
			fmt.Fprintf(w, "\n- %s\n", mdEscape(s))
		}
	} else {
		fmt.Fprintf(w, "\n## Verdict\n\n%s\n", d.Verdict())
	}
	return nil
}

// mdCode renders s as inline code in a table cell, or a dash.
func mdCode(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s) + "`"
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteJUnit writes one suite per runsc and one test case per (op, mode).
// A patched case fails on any failure; a stock case fails only under the
// storm-caught-the-bug case of a stock suite fails when no operation failed
// under the storm (stock failures are the bug, reported in system-out).
func WriteJUnit(w io.Writer, d *Document) error {
	var out junit.Suites
	for _, r := range d.Results {
		s := junit.Suite{Name: "e2e-" + d.suiteClient() + "/" + r.Name, Time: fmt.Sprintf("%.3f", float64(r.DurationMS)/1000)}
		if r.Failure != "" {
			s.Cases = append(s.Cases, junit.Case{Name: "sandbox", Classname: s.Name,
				Failure: &junit.Message{Message: "sandbox run failed", Text: r.Failure}})
		}
		for _, st := range r.Stats {
			c := junit.Case{Name: string(st.Op) + "/" + string(st.Mode), Classname: s.Name,
				Time: fmt.Sprintf("%.3f", float64(st.TotalMS)/1000)}
			var lines []string
			for _, e := range sortedErrors(st) {
				lines = append(lines, fmt.Sprintf("%d× %s", st.Errors[e], e))
			}
			summary := fmt.Sprintf("%d of %d failed", st.Failures, st.Runs)
			c.SystemOut = summary + "\n" + strings.Join(lines, "\n")
			switch {
			case st.Setup != "" && r.Kind == report.Patched:
				c.Failure = &junit.Message{Message: "setup failed", Text: st.Setup}
			case r.Kind == report.Patched && st.Failures > 0:
				c.Failure = &junit.Message{Message: summary, Text: strings.Join(lines, "\n")}
			}
			s.Cases = append(s.Cases, c)
		}
		if r.Kind == report.Stock {
			failures, runs := 0, 0
			for _, st := range r.Stats {
				if st.Mode == ModeStorm {
					failures, runs = failures+st.Failures, runs+st.Runs
				}
			}
			if runs > 0 {
				c := junit.Case{Name: "storm-caught-the-bug", Classname: s.Name,
					SystemOut: fmt.Sprintf("%d of %d failed under the storm", failures, runs)}
				if miss := d.stockMisses(r); len(miss) > 0 {
					c.Failure = &junit.Message{Message: "the storm caught nothing", Text: strings.Join(miss, "\n")}
				}
				s.Cases = append(s.Cases, c)
			}
		}
		out.Suites = append(out.Suites, s)
	}
	return junit.Write(w, &out)
}

// WriteReports writes e2e.json, e2e.md and e2e-junit.xml into dir.
func WriteReports(d *Document, dir string) error {
	for name, write := range map[string]func(io.Writer, *Document) error{
		"e2e.json": WriteJSON, "e2e.md": WriteMarkdown, "e2e-junit.xml": WriteJUnit,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := write(f, d); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
