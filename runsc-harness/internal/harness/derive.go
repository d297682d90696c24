package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/fscopy"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
)

// DeriveUpstream generates the snapshot patches that patches/upstream
// derives (upstream.Derive) against the module version its map names, and
// writes each over the file the snapshot series map (patches/series.json)
// gives it. With check it writes nothing and fails if a file on disk differs
// from what would be generated, naming it.
func DeriveUpstream(ctx context.Context, root string, check bool, log io.Writer) error {
	man, err := upstream.LoadManifest(filepath.Join(root, "patches", "upstream"))
	if err != nil {
		return err
	}
	if man.SnapshotBase == "" {
		return errors.New("patches/upstream/series.json: snapshot_base (the module version the derived patches are made against) is not set")
	}
	ser, err := series.Load(os.DirFS(filepath.Join(root, "patches")))
	if err != nil {
		return err
	}
	files := map[string]string{}
	for _, p := range ser.Patches {
		files[p.ID] = p.File
	}
	ds, err := upstream.Derive(ctx, man, func(v string) (string, error) {
		fmt.Fprintf(log, "derive: against %s@%s\n", gvisor.ModulePath, v)
		mod, err := gvisor.Download(ctx, v)
		if err != nil {
			return "", err
		}
		return mod.Dir, nil
	})
	if err != nil {
		return err
	}
	var stale []string
	for _, d := range ds {
		file, ok := files[d.ID]
		if !ok {
			return fmt.Errorf("patches/upstream/%s derives %s, which patches/series.json does not name", d.From, d.ID)
		}
		path := filepath.Join(root, "patches", filepath.FromSlash(file))
		old, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		switch {
		case bytes.Equal(old, d.Contents):
			fmt.Fprintf(log, "derive: %s (%s) is up to date\n", d.ID, file)
		case check:
			stale = append(stale, d.ID+" ("+file+")")
		default:
			if err := fscopy.WriteFile(path, d.Contents, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(log, "derive: wrote %s (%s) from upstream/%s\n", d.ID, file, d.From)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("derived patches out of date: %s; run `runsc-harness upstream derive` and commit the result (never edit a derived patch by hand)", strings.Join(stale, ", "))
	}
	return nil
}
