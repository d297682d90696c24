package docs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

// StormVerdict prints the storm side by side (native, stock, patched) and says
// whether the run proved the fix: stock must diverge somewhere (the storm
// caught the bug) and patched nowhere.
func StormVerdict(w io.Writer, d *report.Document) error {
	kinds := map[string]report.Kind{}
	var names []string
	for _, v := range d.Variants {
		kinds[v.Name] = v.Kind
		names = append(names, v.Name)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "case\tnative\t%s\n", strings.Join(names, "\t"))
	diverged := map[report.Kind]int{}
	for _, cell := range d.Cells {
		fmt.Fprintf(tw, "%s\t%s", cell.Shape, StormSide(cell.Native, ""))
		for _, o := range cell.Outcomes {
			mark := ""
			if o.Diverges {
				mark = " ✗"
				diverged[kinds[o.Variant]]++
			}
			fmt.Fprintf(tw, "\t%s", StormSide(o.Runsc, o.Error)+mark)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n(result: EINTR returned / interrupted calls; ✗ differs from native Linux)")
	var errs []string
	for _, s := range d.Summaries {
		if s.Failure != "" {
			errs = append(errs, fmt.Sprintf("%s run failed: %s", s.Variant, s.Failure))
		}
	}
	if diverged[report.Patched] > 0 {
		errs = append(errs, fmt.Sprintf("patched runsc diverges from native Linux in %d case(s)", diverged[report.Patched]))
	}
	if diverged[report.Stock] == 0 && len(errs) == 0 {
		errs = append(errs, "stock runsc did not diverge: the storm caught nothing on this version, so it proves nothing here")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	fmt.Fprintf(w, "verdict: stock runsc leaks EINTR in %d case(s); patched runsc matches native Linux.\n", diverged[report.Stock])
	return nil
}
