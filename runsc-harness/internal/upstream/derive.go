package upstream

import (
	"bytes"
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Derivation generates one patch of the snapshot series (patches/series.json)
// from an upstream patch.
type Derivation struct {
	// ID is the snapshot series patch that is generated ("0002").
	ID string `json:"id"`
	// Base, if set, is the module version this derivation is made against
	// instead of the manifest's SnapshotBase: for a snapshot patch that
	// covers an older range of versions whose code differs from master's.
	Base string `json:"base,omitempty"`
	// Context, if set, is the number of context lines of each hunk of the
	// derived patch instead of git's 3: fewer, for a patch whose context
	// differs between the snapshots it must apply to; more, for a hunk
	// whose 3 lines repeat elsewhere in the file, where git apply would
	// put it on a snapshot whose line numbers have moved (runsc-harness
	// check --test catches both).
	Context int `json:"context,omitempty"`
	// Paths, if set, limits the derived patch to the files under these
	// directories, so that one upstream patch can feed patches of two sets
	// (core and parity, say).
	Paths []string `json:"paths,omitempty"`
	// Exclude, if set, leaves these files of the upstream patch out of the
	// derived patch: for a snapshot patch that covers an older range of
	// versions, a Go test that uses an API those versions lack, say.
	Exclude []string `json:"exclude,omitempty"`
	// NoStateify, if set, says why the derived patch leaves the stateify
	// output of the savable types it changes as the snapshot has it (the
	// header says so too): for a patch whose types' stateify output
	// differs between the snapshots it must apply to, until it has a
	// derivation per base.
	NoStateify string `json:"no_stateify,omitempty"`
}

// Derived is a generated snapshot patch.
type Derived struct {
	// ID is the snapshot series patch.
	ID string
	// From is the upstream patch file it was generated from.
	From string
	// Contents is the patch, in git format-patch form.
	Contents []byte
	// Dropped are the upstream files left out: BUILD files, the syscall
	// tests and files outside the derivation's paths.
	Dropped []string
	// Generated are the files made here that the upstream build generates.
	Generated []string
	// NoStateify is the derivation's reason to leave stateify output
	// alone, if any.
	NoStateify string
}

// Derive makes the snapshot form of every upstream patch that names a
// Derivation: the Go files of each upstream patch, with BUILD and test/
// hunks left out, applied in the upstream order to a copy of the files they
// touch in the module source of the derivation's base version (moduleDir
// gives its directory), and the generated code that the patch's BUILD edits
// would make (declare_mutex, refs template instances) ported from a sibling
// instance there, with the stateify output of the savable types the step
// declares or changes (portStateify). Each
// derived patch is git's diff of that step, so it applies to its base after
// the ones before it.
func Derive(ctx context.Context, m *Manifest, moduleDir func(version string) (string, error)) ([]Derived, error) {
	type step struct {
		p     *Patch
		d     Derivation
		files []*gitdiff.File
		hdr   *gitdiff.PatchHeader
	}
	var steps []step
	touched := map[string]bool{}
	for _, p := range m.Patches {
		if len(p.Derive) == 0 {
			continue
		}
		raw, err := os.ReadFile(m.Path(p))
		if err != nil {
			return nil, err
		}
		files, preamble, err := gitdiff.Parse(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("upstream patch %s: %w", p.File, err)
		}
		hdr, err := gitdiff.ParsePatchHeader(preamble)
		if err != nil {
			return nil, fmt.Errorf("upstream patch %s: header: %w", p.File, err)
		}
		for _, d := range p.Derive {
			steps = append(steps, step{p: p, d: d, files: files, hdr: hdr})
		}
		for _, f := range files {
			if f.OldName != "" && keepFile(f.OldName, nil) {
				touched[f.OldName] = true
			}
		}
	}
	trees := map[string]*tree{}
	defer func() {
		for _, t := range trees {
			os.RemoveAll(t.dir)
		}
	}()
	var out []Derived
	for _, s := range steps {
		version := s.d.Base
		if version == "" {
			version = m.SnapshotBase
		}
		t := trees[version]
		if t == nil {
			base, err := moduleDir(version)
			if err != nil {
				return nil, err
			}
			if t, err = newTree(ctx, base, touched); err != nil {
				return nil, err
			}
			trees[version] = t
		}
		dv, err := t.derive(s.p, s.d, s.files)
		if err != nil {
			return nil, err
		}
		dv.Contents = append(header(m, s.p, s.hdr, dv), dv.Contents...)
		dv.Contents = append(dv.Contents, []byte("-- \nrestartsys upstream derive\n")...)
		out = append(out, dv)
	}
	return out, nil
}

// tree is a git repository holding, from one module version, the files the
// upstream patches touch; each derivation is one commit on it.
type tree struct {
	dir  string
	base string
	git  func(stdin []byte, args ...string) ([]byte, error)
}

// newTree copies the touched files that exist in base, and the stateify
// output of their packages, into a new repository and commits them.
func newTree(ctx context.Context, base string, touched map[string]bool) (*tree, error) {
	dir, err := os.MkdirTemp("", "restartsys-derive-")
	if err != nil {
		return nil, err
	}
	t := &tree{dir: dir, base: base, git: func(stdin []byte, args ...string) ([]byte, error) { return runGit(ctx, dir, stdin, args...) }}
	if _, err := t.git(nil, "init", "-q"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	files := map[string]bool{}
	for name := range touched {
		files[name] = true
		// The stateify output of the package, which portStateify updates.
		autogen, err := filepath.Glob(filepath.Join(base, filepath.Dir(name), "*_state_autogen.go"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		for _, a := range autogen {
			files[filepath.Join(filepath.Dir(name), filepath.Base(a))] = true
		}
	}
	for name := range files {
		if err := copyFile(filepath.Join(base, name), filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := commitAll(t.git, "base"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return t, nil
}

// derive applies the part of an upstream patch that d keeps, with the
// files its BUILD edits generate, and returns the step's diff as
// Contents (without a header).
func (t *tree) derive(p *Patch, d Derivation, files []*gitdiff.File) (Derived, error) {
	dv := Derived{ID: d.ID, From: p.File}
	var diff bytes.Buffer
	for _, f := range files {
		name := fileName(f)
		if !d.keeps(name) {
			dv.Dropped = append(dv.Dropped, name)
			continue
		}
		diff.WriteString(f.String())
	}
	gen, err := generatedFiles(files, t.base, d.Paths)
	if err != nil {
		return dv, fmt.Errorf("upstream patch %s: %w", p.File, err)
	}
	for name, content := range gen {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(t.dir, name)), 0o755); err != nil {
			return dv, err
		}
		if err := os.WriteFile(filepath.Join(t.dir, name), content, 0o644); err != nil {
			return dv, err
		}
		dv.Generated = append(dv.Generated, name)
	}
	sort.Strings(dv.Generated)
	if diff.Len() == 0 && len(gen) == 0 {
		return dv, fmt.Errorf("upstream patch %s: derivation %s keeps no file", p.File, d.ID)
	}
	if diff.Len() > 0 {
		if _, err := t.git(diff.Bytes(), "apply", "--whitespace=nowarn", "-"); err != nil {
			return dv, fmt.Errorf("upstream patch %s does not apply to the snapshot for %s: %w", p.File, d.ID, err)
		}
	}
	if err := t.checkImports(files, d); err != nil {
		return dv, fmt.Errorf("upstream patch %s: %w", p.File, err)
	}
	goFiles := append([]string{}, dv.Generated...)
	for _, f := range files {
		if name := fileName(f); !f.IsDelete && d.keeps(name) {
			goFiles = append(goFiles, name)
		}
	}
	var state map[string][]byte
	if d.NoStateify == "" {
		if state, err = portStateify(t.dir, t.base, goFiles); err != nil {
			return dv, fmt.Errorf("upstream patch %s: %w", p.File, err)
		}
	} else {
		dv.NoStateify = d.NoStateify
	}
	for name, content := range state {
		if err := os.WriteFile(filepath.Join(t.dir, name), content, 0o644); err != nil {
			return dv, err
		}
		dv.Generated = append(dv.Generated, name)
	}
	sort.Strings(dv.Generated)
	if _, err := t.git(nil, "add", "-A"); err != nil {
		return dv, err
	}
	body, err := t.git(nil, "diff", "--cached", "--abbrev=7", "--no-color", "--no-renames", fmt.Sprintf("-U%d", d.contextLines()))
	if err != nil {
		return dv, err
	}
	dv.Contents = body
	return dv, commitAll(t.git, d.ID)
}

// checkImports checks that every gVisor package the kept Go files import
// after the step is in the module: the Go-module snapshots leave out
// packages only tests use (pkg/sentry/contexttest, say), and a derived test
// that imports one would fail to build only later, in the build's test
// phase.
func (t *tree) checkImports(files []*gitdiff.File, d Derivation) error {
	const prefix = "gvisor.dev/gvisor/"
	for _, f := range files {
		name := fileName(f)
		if f.IsDelete || !strings.HasSuffix(name, ".go") || !d.keeps(name) {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), filepath.Join(t.dir, name), nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			rel, ok := strings.CutPrefix(path, prefix)
			if !ok {
				continue
			}
			if _, err := os.Stat(filepath.Join(t.base, rel)); err != nil {
				if _, err := os.Stat(filepath.Join(t.dir, rel)); err != nil {
					return fmt.Errorf("%s imports %s, which the Go module does not carry (it leaves out packages only tests use); use what the module has", name, path)
				}
			}
		}
	}
	return nil
}

// keepFile reports whether an upstream file goes into a snapshot patch: Go
// code (and other sources) of the module, not BUILD files, Bazel macros or
// the syscall tests under test/, which the module does not carry; and, if
// paths is set, only files under one of them.
func keepFile(name string, paths []string) bool {
	base := path.Base(name)
	if base == "BUILD" || base == "BUILD.bazel" || strings.HasSuffix(base, ".bzl") || strings.HasPrefix(name, "test/") {
		return false
	}
	if len(paths) == 0 {
		return true
	}
	for _, p := range paths {
		if strings.HasPrefix(name, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// keeps reports whether the derived patch of d carries an upstream file:
// keepFile, within d's paths, and not one d excludes.
func (d Derivation) keeps(name string) bool {
	for _, x := range d.Exclude {
		if name == x {
			return false
		}
	}
	return keepFile(name, d.Paths)
}

// fileName is the path a file diff is about.
func fileName(f *gitdiff.File) string {
	if f.NewName != "" {
		return f.NewName
	}
	return f.OldName
}

// header is the derived patch's format-patch header: the upstream subject
// and message, then what derivation did. There is no author line: the
// upstream patches carry none either.
func header(m *Manifest, p *Patch, h *gitdiff.PatchHeader, dv Derived) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n")
	fmt.Fprintf(&b, "Subject: [PATCH] %s\n\n", h.Title)
	if h.Body != "" {
		b.WriteString(strings.TrimRight(h.Body, "\n") + "\n\n")
	}
	fmt.Fprintf(&b, "[Derived by `runsc-harness upstream derive` from\npatches/upstream/%s\n", p.File)
	fmt.Fprintf(&b, "(gVisor master %.12s) for the gvisor.dev/gvisor Go module.\n", m.Master)
	if len(dv.Dropped) > 0 {
		fmt.Fprintf(&b, "Left out:\n  %s.\n", strings.Join(dv.Dropped, ",\n  "))
	}
	if len(dv.Generated) > 0 {
		fmt.Fprintf(&b, "Generated here, as the BUILD edits generate them upstream:\n  %s.\n", strings.Join(dv.Generated, ",\n  "))
	}
	if dv.NoStateify != "" {
		fmt.Fprintf(&b, "Stateify output not ported: %s.\n", strings.TrimSuffix(dv.NoStateify, "."))
	}
	b.WriteString("Do not edit: edit the upstream patch and run derive again.]\n---\n")
	return b.Bytes()
}

// commitAll commits the tree's state, so that the next diff is one step's.
func commitAll(git func([]byte, ...string) ([]byte, error), msg string) error {
	if _, err := git(nil, "add", "-A"); err != nil {
		return err
	}
	_, err := git(nil, "-c", "user.name=derive", "-c", "user.email=derive@invalid", "commit", "-q", "--allow-empty", "-m", msg)
	return err
}

// runGit runs git in dir, kept from any repository above it and from the
// caller's git environment.
func runGit(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// copyFile copies src to dst, making dst's directory.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// contextLines is the context of each hunk of d's patch.
func (d Derivation) contextLines() int {
	if d.Context > 0 {
		return d.Context
	}
	return 3
}
