package series

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"
)

// Status is what the series does with one patch for one source tree.
type Status string

const (
	// Apply means the tree has the bug and the patch applies cleanly.
	Apply Status = "apply"
	// Upstream means the tree no longer has the bug: it is fixed upstream,
	// and the patch is skipped.
	Upstream Status = "upstream"
	// Failed means the tree has the bug but the patch does not apply.
	Failed Status = "failed"
	// NotHere means the tree lies outside the patch's affected range, not
	// because of an upstream fix, and does not have the code the patch
	// fixes: the patch is skipped, and another patch of the series may
	// carry the same fix for that tree's code (0104 and 0106).
	NotHere Status = "not-here"
)

// Decision is the status of one patch for one tree, with the evidence.
type Decision struct {
	// Patch is the patch decided on.
	Patch *Patch `json:"-"`
	// ID repeats Patch.ID for reports.
	ID string `json:"id"`
	// Status is the outcome.
	Status Status `json:"status"`
	// Detail explains a failure (git apply's own words) or a disagreement.
	Detail string `json:"detail,omitempty"`
	// MapDisagrees is set when the series map's version range and the
	// source-level detection disagree: the map needs fixing.
	MapDisagrees bool `json:"map_disagrees,omitempty"`
}

// MapSaysAffected reports whether the series map declares version v
// affected by the bug patch p fixes.
func (p *Patch) MapSaysAffected(v string) bool {
	if p.FixedUpstreamIn != "" && semver.Compare(v, p.FixedUpstreamIn) >= 0 {
		return false
	}
	return p.Affected.Contains(v)
}

// Plan decides, for each selected patch, whether tree (the unpacked module
// at version) needs it and whether it applies. Whether the bug is present
// is read from tree as it is; whether a patch applies is checked with git
// apply on a scratch copy of the files the patches touch, with the earlier
// patches of the plan already applied, as ApplyPlan will apply them. The
// tree is not modified, so it may be read-only (such as the module cache).
func (s *Series) Plan(ctx context.Context, tree, version string, selected []*Patch) ([]Decision, error) {
	scratch, err := os.MkdirTemp("", "restartsys-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	work := filepath.Join(scratch, "tree")
	if err := s.copyTouched(tree, work, selected); err != nil {
		return nil, err
	}
	var out []Decision
	for _, p := range selected {
		d := Decision{Patch: p, ID: p.ID}
		src, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(p.Detect.File)))
		fixedUpstream := p.FixedUpstreamIn != "" && semver.Compare(version, p.FixedUpstreamIn) >= 0
		switch {
		case errors.Is(err, os.ErrNotExist) && fixedUpstream:
			// Fixed upstream, and the file has moved on since (0201's
			// per-release assembly files became one).
			d.Status = Upstream
		case errors.Is(err, os.ErrNotExist) && !p.MapSaysAffected(version):
			// Outside the patch's range, without the file it fixes: the
			// code moved (0107 and its backport 0109).
			d.Status = NotHere
		case errors.Is(err, os.ErrNotExist):
			d.Status = Failed
			d.Detail = fmt.Sprintf("%s is missing from this tree", p.Detect.File)
		case err != nil:
			return nil, err
		case !bytes.Contains(src, []byte(p.Detect.AffectedIfContains)):
			d.Status = Upstream
			if !fixedUpstream && !p.MapSaysAffected(version) {
				d.Status = NotHere
			}
		default:
			d.Status = Apply
			if err := gitApply(ctx, work, s.Contents(p), true); err != nil {
				d.Status = Failed
				d.Detail = err.Error()
			} else if err := gitApply(ctx, work, s.Contents(p), false); err != nil {
				return nil, err
			}
		}
		detected := d.Status == Apply || d.Status == Failed
		if detected != p.MapSaysAffected(version) {
			d.MapDisagrees = true
			if detected {
				d.Detail = strings.TrimSpace(d.Detail + "; series map says not affected, but the source has the bug")
			} else {
				d.Detail = "series map says affected, but the source is fixed"
			}
			d.Detail = strings.TrimPrefix(d.Detail, "; ")
		}
		out = append(out, d)
	}
	return out, nil
}

// copyTouched copies from tree to dst the files that the selected patches
// change and that exist in tree.
func (s *Series) copyTouched(tree, dst string, selected []*Patch) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, p := range selected {
		for _, f := range s.Files(p) {
			b, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(f)))
			if errors.Is(err, os.ErrNotExist) {
				continue // a new file, or a missing one git apply reports
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
	}
	return nil
}

// ApplyError is returned by ApplyPlan when a patch does not apply.
type ApplyError struct {
	// Patch is the patch that failed.
	Patch *Patch
	// Version is the module version of the tree.
	Version string
	// Git is what git apply said, naming the file and line.
	Git string
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("patch %s (%s) does not apply to %s: %s", e.Patch.ID, filepath.Base(e.Patch.File), e.Version, e.Git)
}

// ApplyPlan applies, in order, every patch the plan marks Apply to tree,
// checking each with git apply --check first. It fails on the first patch
// that does not apply, and on a plan that has a Failed decision.
func (s *Series) ApplyPlan(ctx context.Context, tree, version string, plan []Decision) error {
	for _, d := range plan {
		switch d.Status {
		case Upstream, NotHere:
			continue
		case Failed:
			return &ApplyError{Patch: d.Patch, Version: version, Git: d.Detail}
		}
		c := s.Contents(d.Patch)
		if err := gitApply(ctx, tree, c, true); err != nil {
			return &ApplyError{Patch: d.Patch, Version: version, Git: err.Error()}
		}
		if err := gitApply(ctx, tree, c, false); err != nil {
			return &ApplyError{Patch: d.Patch, Version: version, Git: err.Error()}
		}
	}
	return nil
}

// gitApply runs git apply (with --check when check is set) on patch in
// tree. Git is kept from discovering a repository above tree, which would
// make it apply paths relative to that repository instead.
func gitApply(ctx context.Context, tree string, patch []byte, check bool) error {
	args := []string{"apply", "--whitespace=nowarn"}
	if check {
		args = append(args, "--check")
	}
	args = append(args, "-")
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = tree
	cmd.Stdin = bytes.NewReader(patch)
	parent, err := filepath.Abs(filepath.Dir(tree))
	if err != nil {
		return err
	}
	cmd.Env = append(gitFreeEnv(os.Environ()), "GIT_CEILING_DIRECTORIES="+parent)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return fmt.Errorf("running git apply: %w", err)
		}
		return errors.New(gitErrors(stderr.String()))
	}
	return nil
}

// gitErrors condenses git apply's stderr to its "error:" lines.
func gitErrors(stderr string) string {
	var msgs []string
	for _, line := range strings.Split(stderr, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "error: "); ok {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return strings.TrimSpace(stderr)
	}
	return strings.Join(msgs, "; ")
}

// gitFreeEnv drops the variables through which a calling git (a hook, say)
// would point git apply at another repository or index.
func gitFreeEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES":
			continue
		}
		out = append(out, kv)
	}
	return out
}
