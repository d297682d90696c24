package harness

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
)

// WriteReports writes report.json, junit.xml and report.md into dir,
// prints the Markdown on stdout and where the files are on log (either may
// be nil).
func WriteReports(d *report.Document, dir string, stdout, log io.Writer) error {
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, d); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"report.json", func(w io.Writer) error { return report.WriteJSON(w, d) }},
		{"junit.xml", func(w io.Writer) error { return report.WriteJUnit(w, d) }},
		{"report.md", func(w io.Writer) error { _, err := w.Write(md.Bytes()); return err }},
	} {
		w, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		if err := f.write(w); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	orDiscard(stdout).Write(md.Bytes())
	fmt.Fprintf(orDiscard(log), "reports: %s/{report.json,junit.xml,report.md}\n", dir)
	return nil
}
