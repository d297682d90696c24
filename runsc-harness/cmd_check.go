package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

func init() {
	register(&command{
		name:     "check",
		synopsis: "apply the series to every known gVisor snapshot (no runsc build) and report",
		run:      runCheck,
	})
}

// checkRow is the outcome of applying the series to one snapshot.
type checkRow struct {
	Version string            `json:"version"`
	Date    string            `json:"date"`
	Patches []series.Decision `json:"patches"`
	// NeedsCompat is set when the snapshot needs a baseline (compat)
	// patch: built with this toolchain as published, its runsc does not run.
	NeedsCompat bool `json:"needs_compat"`
	// Error is set when the series could not be applied as planned.
	Error string `json:"error,omitempty"`
	// Tests is the go test outcome with --test: "ok", "FAIL" or "".
	Tests string `json:"tests,omitempty"`
}

func runCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	gv := fs.String("gvisor", "all", "a version, date or latest; all for every known snapshot")
	test := fs.Bool("test", false, "also run the Go tests of the patched packages (copies whole trees; slower)")
	jsonOut := fs.Bool("json", false, "print JSON")
	var sf seriesFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-harness check [--gvisor V|all] [--sets S] [--test] [--json]\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *gv != "all" {
		if err := checkGVisorSpec("gvisor", *gv, false); err != nil {
			return err
		}
	}
	ser, sel, err := sf.load()
	if err != nil {
		return err
	}
	vs, _, err := knownVersions(ctx, os.Stderr)
	if err != nil {
		return err
	}
	if *gv != "all" {
		v, err := gvisor.Resolve(vs, *gv)
		if err != nil {
			return err
		}
		vs = []gvisor.Version{v}
	}
	var rows []checkRow
	bad := 0
	for i, v := range vs {
		fmt.Fprintf(os.Stderr, "[%d/%d] %s@%s: downloading (once; then from the module cache) and applying the series\n", i+1, len(vs), gvisor.ModulePath, v.Version)
		row, err := checkOne(ctx, ser, sel, v, *test)
		if err != nil {
			return err
		}
		if row.Error != "" || row.Tests == "FAIL" {
			bad++
		}
		for _, d := range row.Patches {
			if d.MapDisagrees {
				bad++
			}
		}
		rows = append(rows, row)
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		printCheck(os.Stdout, ser, sel, rows)
	}
	if bad > 0 {
		return fmt.Errorf("%d problem(s) applying the series", bad)
	}
	return nil
}

// checkOne applies the series to a scratch copy of version v: only the
// files the patches touch, or the whole tree when the tests must run.
func checkOne(ctx context.Context, ser *series.Series, sel []*series.Patch, v gvisor.Version, test bool) (checkRow, error) {
	row := checkRow{Version: v.Version, Date: v.Date()}
	mod, err := gvisor.Download(ctx, v.Version)
	if err != nil {
		return row, err
	}
	tmp, err := os.MkdirTemp("", "restartsys-check-")
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "src")
	files := map[string]bool{}
	for _, p := range sel {
		files[p.Detect.File] = true
		for _, f := range ser.Files(p) {
			files[f] = true
		}
	}
	if test {
		err = copyDir(mod.Dir, tree)
	} else {
		err = copySome(mod.Dir, tree, files)
	}
	if err != nil {
		return row, err
	}
	if row.Patches, err = ser.Plan(ctx, tree, v.Version, sel); err != nil {
		return row, err
	}
	for _, d := range row.Patches {
		if d.Status == series.Apply && ser.IsBaseline(d.Patch) {
			row.NeedsCompat = true
		}
	}
	if err := ser.ApplyPlan(ctx, tree, v.Version, row.Patches); err != nil {
		var ae *series.ApplyError
		if !errors.As(err, &ae) {
			return row, err
		}
		row.Error = err.Error()
		return row, nil
	}
	if test {
		var applied []*series.Patch
		for _, d := range row.Patches {
			if d.Status == series.Apply {
				applied = append(applied, d.Patch)
			}
		}
		row.Tests = "ok"
		if pkgs := ser.Packages(applied); len(pkgs) > 0 {
			args := []string{"test", "-count=1"}
			for _, p := range pkgs {
				args = append(args, "./"+p)
			}
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = tree
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				row.Tests = "FAIL"
				row.Error = strings.TrimSpace(string(out))
			}
		}
	}
	return row, nil
}

func printCheck(w io.Writer, ser *series.Series, sel []*series.Patch, rows []checkRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "VERSION\tDATE\tCOMPAT")
	for _, p := range sel {
		fmt.Fprintf(tw, "\t%s", p.ID)
	}
	fmt.Fprintln(tw, "\tRESULT")
	for _, r := range rows {
		compat := "not needed"
		if r.NeedsCompat {
			compat = "needed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", r.Version, r.Date, compat)
		for _, d := range r.Patches {
			mark := map[series.Status]string{series.Apply: "applied", series.Upstream: "already upstream", series.Failed: "FAILED", series.NotHere: "n/a"}[d.Status]
			if d.MapDisagrees {
				mark += " (map disagrees)"
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		result := "ok"
		if r.Error != "" {
			result = "FAILED: " + firstLine(r.Error)
		}
		if r.Tests != "" {
			result += ", tests " + r.Tests
		}
		fmt.Fprintf(tw, "\t%s\n", result)
	}
	tw.Flush()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// copySome copies the named tree-relative files that exist under src.
func copySome(src, dst string, files map[string]bool) error {
	for f := range files {
		from := filepath.Join(src, filepath.FromSlash(f))
		b, err := os.ReadFile(from)
		if errors.Is(err, os.ErrNotExist) {
			continue // Plan reports the missing file.
		}
		if err != nil {
			return err
		}
		to := filepath.Join(dst, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(dst, 0o755)
}

// copyDir copies a whole tree with `cp -r`, then makes it writable.
func copyDir(src, dst string) error {
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -r %s: %v: %s", src, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", dst).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod: %v: %s", err, out)
	}
	return nil
}
