package anchor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Dir keeps anchors as files in a folder: the local stack's stand-in for
// the Object Lock bucket. Files are written once (never replaced) and made
// read-only; unlike the bucket, nothing stops their owner from changing
// them, but Verify notices a changed one by its digest.
type Dir struct {
	Path string
}

var (
	_ Sink   = Dir{}
	_ Source = Dir{}
)

// Put writes body to a new file name in the folder (created if missing):
// to a temporary file first, synced, then linked under its name, so a
// reader never sees half an anchor and an existing anchor is never
// replaced.
func (d Dir) Put(ctx context.Context, name string, body []byte) error {
	if !ValidName(name) {
		return fmt.Errorf("put anchor: invalid name")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(d.Path, ".tmp-*")
	if err != nil {
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	// Link fails if the name exists: an anchor is never replaced.
	if err := os.Link(tmp.Name(), filepath.Join(d.Path, name)); err != nil {
		return fmt.Errorf("put anchor %s: %w", name, err)
	}
	return nil
}

// List returns the names of the files in the folder after the name after,
// in name order; hidden files (a Put under way) are left out. A folder
// that does not exist holds no anchors.
func (d Dir) List(ctx context.Context, after string) ([]string, error) {
	entries, err := os.ReadDir(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list anchors in %s: %w", d.Path, err)
	}
	var names []string
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if n := e.Name(); !strings.HasPrefix(n, ".") && n > after {
			names = append(names, n)
		}
	}
	return names, nil
}

// Read returns the file name of the folder, at most limit bytes.
func (d Dir) Read(ctx context.Context, name string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("read anchor: invalid name")
	}
	f, err := os.Open(filepath.Join(d.Path, name))
	if err != nil {
		return nil, fmt.Errorf("read anchor %s: %w", name, err)
	}
	defer f.Close()
	return readLimited(f, name, limit)
}

// ErrTooLarge is returned (wrapped) by a Source's Read for an object over
// the limit.
var ErrTooLarge = errors.New("larger than the limit")

// readLimited reads r to its end; more than limit bytes is an error.
func readLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read anchor %s: %w", name, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("read anchor %s: %w (%d bytes)", name, ErrTooLarge, limit)
	}
	return body, nil
}
