package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/junit"
)

// WriteJUnit writes d as JUnit XML: one testsuite per runsc variant, one
// testcase per cell (classname is the guest). A divergence is a failure,
// an expected divergence is skipped with its reason, a cell that could not
// be judged (failed run) is an error.
func WriteJUnit(w io.Writer, d *Document) error {
	all := junit.Suites{Name: "runsc-harness"}
	for _, v := range d.Variants {
		s := junit.Suite{Name: v.Name, Properties: junit.Props(
			junit.Property{Name: "kind", Value: string(v.Kind)}, junit.Property{Name: "runsc", Value: v.Runsc},
			junit.Property{Name: "platform", Value: v.Platform}, junit.Property{Name: "network", Value: v.Network},
			junit.Property{Name: "directfs", Value: v.DirectFS},
		)}
		for _, c := range d.Cells {
			for _, o := range c.Outcomes {
				if o.Variant != v.Name {
					continue
				}
				tc := junit.Case{Classname: c.Guest, Name: c.Shape + " [" + c.Disposition + "]"}
				msg := fmt.Sprintf("native %s, runsc %s", Format(c.Native, o.Reasons), Format(o.Runsc, o.Reasons))
				switch {
				case o.Error != "":
					tc.Error = &junit.Message{Message: o.Error, Type: "run-failed"}
				case o.Diverges && o.Expected != "":
					tc.Skipped = &junit.Message{Message: "expected divergence (" + o.Expected + "): " + msg}
				case o.Diverges:
					tc.Failure = &junit.Message{Message: msg, Type: "divergence", Text: strings.Join(o.Reasons, "\n") +
						"\nnative counters: " + sortedCounters(c.Native) + "\nrunsc counters: " + sortedCounters(o.Runsc)}
				}
				s.Cases = append(s.Cases, tc)
			}
		}
		// A failed run with no cell at all still shows up.
		for _, sum := range d.Summaries {
			if sum.Variant == v.Name && sum.Failure != "" && sum.Cells == 0 {
				s.Cases = append(s.Cases, junit.Case{Classname: sum.Guest, Name: "run",
					Error: &junit.Message{Message: sum.Failure, Type: "run-failed"}})
			}
		}
		all.Suites = append(all.Suites, s)
	}
	return junit.Write(w, &all)
}

// SummaryLine is the one-line summary of a guest under a variant.
func (s Summary) SummaryLine() string {
	return fmt.Sprintf("%d shapes × %d dispositions, %d divergences", s.Shapes, s.Dispositions, s.Divergences)
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// WriteMarkdown writes an overview of every variant and, per variant, a
// table of only the cells that differ from native.
func WriteMarkdown(w io.Writer, d *Document) error {
	var b strings.Builder
	b.WriteString("# runsc vs native Linux\n\n")
	b.WriteString("| variant | kind | guest | summary | not expected | status |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, s := range d.Summaries {
		status := "ok"
		switch {
		case s.Failure != "":
			status = "RUN FAILED"
		case s.Unexpected > 0 && s.Kind == Patched:
			status = "FAIL"
		case s.Unexpected > 0:
			status = "diverges"
		case s.Divergences > 0:
			status = "expected divergences only"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s |\n", mdCell(s.Variant), s.Kind, mdCell(s.Guest), s.SummaryLine(), s.Unexpected, status)
	}
	for _, v := range d.Variants {
		for _, s := range d.Summaries {
			if s.Variant != v.Name {
				continue
			}
			fmt.Fprintf(&b, "\n## %s — %s\n\n", v.Name, s.Guest)
			fmt.Fprintf(&b, "runsc %s (%s), platform %s, network %s, directfs %s\n\n", v.Runsc, v.Kind, v.Platform, v.Network, v.DirectFS)
			fmt.Fprintf(&b, "`%s`", s.SummaryLine())
			if s.Divergences > 0 {
				fmt.Fprintf(&b, " (%d not marked expected)", s.Unexpected)
			}
			b.WriteString("\n\n")
			if s.Failure != "" {
				fmt.Fprintf(&b, "**Not judged:** %s\n", strings.TrimSpace(s.Failure))
				continue
			}
			if s.Divergences == 0 {
				b.WriteString("No cell differs from native.\n")
				continue
			}
			b.WriteString("| shape | disposition | native | runsc | expected |\n")
			b.WriteString("|---|---|---|---|---|\n")
			for _, dv := range d.Divergences {
				if dv.Variant != v.Name || dv.Guest != s.Guest {
					continue
				}
				exp := "**no**"
				if dv.Expected != "" {
					exp = "yes: " + dv.Expected
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(dv.Shape), mdCell(dv.Disposition), mdCell(dv.Native), mdCell(dv.Runsc), mdCell(exp))
			}
		}
	}
	if len(d.Stale) > 0 {
		b.WriteString("\n## Expected divergences that no longer diverge\n\n")
		if d.AllowStale {
			b.WriteString("Allowed for this run (not a problem).\n\n")
		}
		b.WriteString("| guest | shape | disposition | kind | reason |\n|---|---|---|---|---|\n")
		for _, e := range d.Stale {
			g := e.Guest
			if g == "" {
				g = "(any)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(g), mdCell(e.Shape), mdCell(e.Disposition), e.Kind, mdCell(e.Reason))
		}
	}
	b.WriteString("\n## Runs\n\n| guest | variant | result | time | logs |\n|---|---|---|---|---|\n")
	for _, r := range d.Runs {
		res := "report"
		if r.Report != nil {
			res = fmt.Sprintf("report, %d cells", len(r.Report.Cases))
			if r.ExitCode != 0 {
				res += fmt.Sprintf(", exit status %d", r.ExitCode)
			}
		} else {
			res = "**failed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.1fs | %s |\n", mdCell(r.Guest), mdCell(r.Variant), res, float64(r.DurationMS)/1000, mdCell(r.LogDir))
	}
	if p := d.Problems(); len(p) > 0 {
		b.WriteString("\n## Problems\n\n")
		for _, x := range p {
			fmt.Fprintf(&b, "- %s\n", mdCell(x))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
