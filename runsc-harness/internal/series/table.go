package series

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
)

// WriteVersions prints the snapshots vs as a table, with withPlans one
// column per selected patch saying what plans[i] decided for vs[i], and a
// legend.
func WriteVersions(w io.Writer, vs []gvisor.Version, sel []*Patch, plans [][]Decision, withPlans bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "VERSION\tDATE")
	if withPlans {
		for _, p := range sel {
			fmt.Fprintf(tw, "\t%s", p.ID)
		}
	}
	fmt.Fprintln(tw)
	for i, v := range vs {
		fmt.Fprintf(tw, "%s\t%s", v.Version, v.Date())
		for _, d := range plans[i] {
			mark := string(d.Status)
			if d.MapDisagrees {
				mark += "!"
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if withPlans {
		fmt.Fprintln(w, "\napply: the source has the bug and the patch applies; upstream: fixed upstream, skipped;")
		fmt.Fprintln(w, "failed: has the bug but the patch does not apply; not-here: outside the patch's range, without its code;")
		fmt.Fprintln(w, "!: the series map disagrees with the source.")
		for _, p := range sel {
			fmt.Fprintf(w, "%s  [%s] %s\n", p.ID, p.Set, p.Summary)
		}
	}
	return nil
}
