package fetch

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// resolveLocal applies the local-path rules and returns the real (symlink
// free) root and the path of the target relative to it. Reasons quote the
// user's path, never the server's root.
func (f *Fetcher) resolveLocal(p string) (rootReal, rel string, err error) {
	if f.cfg.LocalRoot == "" {
		return "", "", fail(CodeLocalDisabled, nil, "local files are disabled on this server (TAGSTREAM_LOCAL_ROOT is not set)")
	}
	if strings.TrimSpace(p) == "" {
		return "", "", fail(CodeBadSource, nil, "empty local path")
	}
	if strings.ContainsRune(p, 0) {
		return "", "", fail(CodeBadSource, nil, "local path contains a NUL byte")
	}
	// ".." is refused outright rather than cleaned away: "link/.." means
	// different things lexically and to the kernel when link is a symlink.
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return "", "", fail(CodeOutsideRoot, nil, "local path %q contains \"..\"; local paths must stay under the local root", p)
		}
	}
	rootAbs, err := filepath.Abs(f.cfg.LocalRoot)
	if err == nil {
		rootReal, err = filepath.EvalSymlinks(rootAbs)
	}
	if err != nil {
		return "", "", fail(CodeLocalDisabled, err, "local files are unavailable: the server's local root cannot be opened")
	}
	rel = filepath.Clean(p)
	if filepath.IsAbs(rel) {
		// Accept the root as configured and as resolved, so a root that
		// is itself a symlink works with either spelling.
		r, ok := within(rootAbs, rel)
		if !ok {
			r, ok = within(rootReal, rel)
		}
		if !ok {
			return "", "", fail(CodeOutsideRoot, nil, "local path %q is outside the local root", p)
		}
		rel = r
	}
	real, err := filepath.EvalSymlinks(filepath.Join(rootReal, rel))
	if err != nil {
		return "", "", localErr(p, err)
	}
	rel, ok := within(rootReal, real)
	if !ok {
		return "", "", fail(CodeOutsideRoot, nil, "local path %q leads outside the local root through a symbolic link", p)
	}
	return rootReal, rel, nil
}

// within returns p relative to root when p lies under root.
func within(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

func localErr(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fail(CodeNotFound, err, "local file %q does not exist", p)
	case errors.Is(err, fs.ErrPermission):
		return fail(CodeBadSource, err, "local file %q cannot be read: permission denied", p)
	case strings.Contains(err.Error(), "escapes"):
		// os.Root's only signal for an escape is this message.
		return fail(CodeOutsideRoot, err, "local path %q leads outside the local root", p)
	}
	return fail(CodeBadSource, err, "local file %q cannot be read", p)
}

// readLocal reads the file (or, for check, its first bytes). The open goes
// through os.Root so a symlink swapped in after resolveLocal still cannot
// lead outside the root.
func (f *Fetcher) readLocal(p string, check bool) ([]byte, error) {
	rootDir, rel, err := f.resolveLocal(p)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, fail(CodeLocalDisabled, err, "local files are unavailable: the server's local root cannot be opened")
	}
	defer root.Close()
	// O_NONBLOCK keeps a FIFO planted under the root from blocking the
	// open forever; it changes nothing for regular files.
	file, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, localErr(p, err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, localErr(p, err)
	}
	switch {
	case fi.IsDir():
		return nil, fail(CodeBadSource, nil, "local path %q is a directory, not a file", p)
	case !fi.Mode().IsRegular():
		return nil, fail(CodeBadSource, nil, "local path %q is not a regular file", p)
	case fi.Size() > f.cfg.MaxBytes:
		return nil, fail(CodeTooLarge, nil, "document is too large: %s, over the %s limit", humanBytes(fi.Size()), humanBytes(f.cfg.MaxBytes))
	}
	limit := f.cfg.MaxBytes + 1 // the file may grow after Stat
	if check {
		limit = sniffLen
	}
	data, err := io.ReadAll(io.LimitReader(file, limit))
	if err != nil {
		return nil, localErr(p, err)
	}
	if int64(len(data)) > f.cfg.MaxBytes {
		return nil, fail(CodeTooLarge, nil, "document is too large: more than the %s limit", humanBytes(f.cfg.MaxBytes))
	}
	if !hasPDFMagic(data) {
		return nil, notPDF(data[:min(len(data), sniffLen)], "")
	}
	if check {
		return nil, nil
	}
	return data, nil
}
