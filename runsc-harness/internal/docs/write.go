package docs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
)

// Write regenerates affected-versions.md and upstreaming.md in dir from
// the series (sel: the patches the table shows) and the records. With check
// it writes nothing and fails if a file on disk differs from what it would
// write. It says on log what it wrote.
func Write(ctx context.Context, dir string, ser *series.Series, sel []*series.Patch, records map[string]Record, vs []gvisor.Version, check bool, log io.Writer) error {
	var aff, up bytes.Buffer
	if err := RenderAffected(ctx, &aff, ser, sel, vs, records); err != nil {
		return err
	}
	form, err := LoadUpstreamForm(dir, vs)
	if err != nil {
		return err
	}
	if err := RenderUpstreaming(&up, ser, form); err != nil {
		return err
	}
	if err := suitereport.RenderSection(&up, dir); err != nil {
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
		fmt.Fprintf(log, "wrote %s\n", path)
	}
	if len(stale) > 0 {
		return fmt.Errorf("out of date (regenerate with `go run ./runsc-harness docs`): %s", strings.Join(stale, ", "))
	}
	return nil
}
