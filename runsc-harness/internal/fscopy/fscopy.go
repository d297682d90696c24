// Package fscopy copies files and trees of files, as the harness does to put
// module sources into work trees and guest binaries into bundles, and
// replaces files atomically.
package fscopy

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File copies src to dst with permission bits mode, replacing dst.
func File(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Tree copies the directories and regular files under src to dst, keeping
// each file's permission bits and making it writable by its owner (the Go
// module cache, the usual source, is read-only). Anything else (a symlink,
// say) is an error: module trees hold none.
func Tree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return File(p, target, fi.Mode().Perm()|0o200)
		default:
			return fmt.Errorf("%s: not a regular file", p)
		}
	})
}

// WriteJSON writes v to path as indented JSON with a final newline,
// atomically: a temporary file beside path, then a rename, so that a
// reader never sees half a file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'), 0o644)
}

// WriteFile writes data to path atomically: a temporary file beside path,
// then a rename, so that a reader never sees half a file.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
