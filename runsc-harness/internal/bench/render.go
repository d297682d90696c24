package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// fmtNS renders nanoseconds with a unit that keeps 3 significant digits.
func fmtNS(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "—"
	case ns >= 1e6:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// fmtStatNS renders a stat of ns/op as "median [min–max]".
func fmtStatNS(s stat) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s [%s–%s]", fmtNS(s.Median), fmtNS(s.Min), fmtNS(s.Max))
}

// fmtSeconds renders a duration in seconds as 12.3s or 2m05s.
func fmtSeconds(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1fs", s)
	}
	m := int(s) / 60
	return fmt.Sprintf("%dm%02ds", m, int(s)-60*m)
}

// Print prints the result as one table.
func Print(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\nrunsc-harness bench, %s, %d CPU(s), %s; gVisor %s\n", r.Date.Format("2006-01-02 15:04 UTC"), r.CPUs, r.Platform, r.GVisor)
	if r.LoadStart != "" || r.LoadEnd != "" {
		fmt.Fprintf(w, "load average (1, 5, 15 min): %s at the start, %s at the end\n", r.LoadStart, r.LoadEnd)
	}
	fmt.Fprintf(w, "overhead: ns/op, median [min–max] over %d interleaved rounds (guest %s); ratio = patched/stock per round, median [95%% CI of the median]\n\n",
		r.Rounds, strings.Join(r.BenchArgs, " "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tnative\tstock\tpatched\tpatched/stock\ttarget\tmet")
	for _, o := range r.Overhead {
		ratio := "—"
		if o.Ratio.N > 0 {
			ratio = fmt.Sprintf("%.3f [%.3f–%.3f]", o.Ratio.Median, o.Ratio.CILow, o.Ratio.CIHigh)
			if o.Ratio.CIHigh == 0 {
				ratio = fmt.Sprintf("%.3f [no CI]", o.Ratio.Median)
			}
		}
		fmt.Fprintf(tw, "overhead %s\t%s\t%s\t%s\t%s\t≤ %.2f\t%s\n", o.Shape, fmtNS(o.Native.Median), fmtStatNS(o.Stock), fmtStatNS(o.Patched), ratio, o.Target, o.Met)
	}
	for _, d := range r.Detection {
		var v string
		switch {
		case d.Failure != "" && d.Detected == 0:
			v = "FAILED: " + benchLine(d.Failure)
		default:
			med := "> 1s"
			if d.MedianMS != nil {
				med = fmt.Sprintf("%.3g ms", *d.MedianMS)
			}
			v = fmt.Sprintf("median %s, %d/%d ≤ 1s", med, d.Within, d.Trials)
			if d.FirstMS.N > 0 {
				v += fmt.Sprintf(", max %.3g ms", d.FirstMS.Max)
			}
		}
		fmt.Fprintf(tw, "first EINTR %s (stock %s)\t—\t%s\t—\t—\t100%% ≤ 1s, median ≤ 10 ms\t%s\n", d.Shape, shortVersion(d.GVisor), v, d.Met)
	}
	// Cost rows of one measure (the matrix under native, stock, patched)
	// share a line.
	var order []string
	byWhat := map[string][]costRow{}
	for _, c := range r.Cost {
		if _, ok := byWhat[c.What]; !ok {
			order = append(order, c.What)
		}
		byWhat[c.What] = append(byWhat[c.What], c)
	}
	for _, what := range order {
		cols := map[string]string{"native": "—", "stock": "—", "patched": "—"}
		secs := map[string]float64{}
		target, met, label := "—", "", what
		for _, c := range byWhat[what] {
			val := fmtSeconds(c.Seconds)
			if c.Skipped {
				val = c.Note
			} else if strings.HasPrefix(c.Note, "failed") {
				val = "failed (below)"
			}
			col := c.Variant
			if col != "native" && col != "stock" && col != "patched" {
				col, label = "patched", what+" ("+c.Variant+")"
			}
			cols[col], secs[col] = val, c.Seconds
			if c.Target > 0 {
				target = "≤ " + fmtSeconds(c.Target)
			}
			switch {
			case c.Met == "n/a":
			case met == "" || met == "n/a" || c.Met == "no":
				met = c.Met
			}
		}
		if met == "" {
			met = "n/a"
		}
		ratio := "—"
		if secs["stock"] > 0 && secs["patched"] > 0 {
			ratio = fmt.Sprintf("%.3f", secs["patched"]/secs["stock"])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", label, cols["native"], cols["stock"], cols["patched"], ratio, target, met)
	}
	tw.Flush()
	for _, c := range r.Cost {
		if c.Note != "" && !c.Skipped {
			fmt.Fprintf(w, "  %s, %s: %s\n", c.What, c.Variant, benchLine(c.Note))
		}
	}
	for _, d := range r.Detection {
		if d.Failure != "" {
			fmt.Fprintf(w, "  first EINTR %s: %s\n", d.Shape, benchLine(d.Failure))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintln(w, "\n(targets from issue 6, reported only: timings never fail the command)")
}

// shortVersion turns v0.0.0-20260518063529-209a0ce076a1 into 2026-05-18.
func shortVersion(v string) string {
	parts := strings.Split(v, "-")
	if len(parts) == 3 && len(parts[1]) == 14 {
		d := parts[1]
		return d[:4] + "-" + d[4:6] + "-" + d[6:8]
	}
	return v
}

func benchLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
