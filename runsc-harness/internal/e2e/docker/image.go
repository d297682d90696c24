package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file of an image's root file system: the host file Src
// (symbolic links followed) at Dst, with mode Mode.
type File struct {
	Src, Dst string
	Mode     os.FileMode
}

// HostBinaries returns the files that put the host programs bins into an
// image at the same paths, with every shared library ldd(1) names for them
// (and the dynamic loader).
func HostBinaries(ctx context.Context, bins ...string) ([]File, error) {
	seen := map[string]bool{}
	var files []File
	add := func(p string, mode os.FileMode) {
		if !seen[p] {
			seen[p] = true
			files = append(files, File{Src: p, Dst: p, Mode: mode})
		}
	}
	for _, b := range bins {
		add(b, 0o755)
		out, err := exec.CommandContext(ctx, "ldd", b).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "not a dynamic executable") {
				continue // static
			}
			return nil, fmt.Errorf("ldd %s: %w: %s", b, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "/") {
					add(f, 0o755)
				}
			}
		}
	}
	return files, nil
}

// WriteRootfsTar writes a tar of a root file system holding files (and
// the directories a daemon-running container wants) to path, and returns
// the SHA-256 of its content, for the image's tag.
func WriteRootfsTar(path string, files []File) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	epoch := time.Unix(0, 0)
	dirs := map[string]os.FileMode{
		"tmp": 0o1777, "proc": 0o755, "sys": 0o755, "dev": 0o755, "run": 0o755, "root": 0o700,
		"etc": 0o755, "var": 0o755, "var/lib": 0o755, "out": 0o755,
	}
	for _, fl := range files {
		for d := filepath.Dir(strings.TrimPrefix(fl.Dst, "/")); d != "."; d = filepath.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: int64(dirs[d]), ModTime: epoch}); err != nil {
			return "", err
		}
	}
	// Debian's layout: /var/run is /run.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "var/run", Linkname: "/run", Mode: 0o777, ModTime: epoch}); err != nil {
		return "", err
	}
	etc := map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\n"}
	for _, n := range []string{"etc/group", "etc/passwd"} {
		if err := writeTarFile(tw, n, 0o644, strings.NewReader(etc[n]), int64(len(etc[n]))); err != nil {
			return "", err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Dst < files[j].Dst })
	for _, fl := range files {
		src, err := os.Open(fl.Src)
		if err != nil {
			return "", err
		}
		fi, err := src.Stat()
		if err == nil {
			err = writeTarFile(tw, strings.TrimPrefix(fl.Dst, "/"), fl.Mode, src, fi.Size())
		}
		src.Close()
		if err != nil {
			return "", fmt.Errorf("adding %s: %w", fl.Src, err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

func writeTarFile(tw *tar.Writer, name string, mode os.FileMode, r io.Reader, size int64) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode.Perm()), Size: size, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// Import makes an image tagged name of the root file system tar path in
// h (docker import: no registry involved).
func (h *HostDocker) Import(ctx context.Context, path, name string) error {
	_, err := h.Docker(ctx, 5*time.Minute, "import", path, name)
	return err
}
