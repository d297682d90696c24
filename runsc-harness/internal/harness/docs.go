package harness

import (
	"context"
	"io"
	"path/filepath"

	"github.com/restartsys/restartsys/runsc-harness/internal/docs"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream"
)

// WriteDocs regenerates the generated documents in dir (docs.Write) from
// the series, the selected patches, the runs recorded in
// dir/affected-versions.json and the known snapshots. With check it writes
// nothing and fails if a file differs from what would be generated.
func WriteDocs(ctx context.Context, dir string, ser *series.Series, sel []*series.Patch, check bool, log io.Writer) error {
	records, err := docs.LoadRecords(filepath.Join(dir, "affected-versions.json"))
	if err != nil {
		return err
	}
	vs, _, err := KnownVersions(ctx, log)
	if err != nil {
		return err
	}
	return docs.Write(ctx, dir, ser, sel, records, vs, check, log)
}

// RecordUpstream saves rec in dir/upstream-verify.json, beside the records
// of other snapshots, and regenerates the documents in dir from them.
func RecordUpstream(ctx context.Context, dir string, rec upstream.Record, ser *series.Series, sel []*series.Patch, log io.Writer) error {
	if err := upstream.SaveRecord(filepath.Join(dir, upstream.RecordFile), rec); err != nil {
		return err
	}
	return WriteDocs(ctx, dir, ser, sel, false, log)
}
