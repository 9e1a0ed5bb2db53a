// Package atomicfile replaces files so that a power cut leaves either the
// old content or the new, never half of either: the data goes to a
// temporary file in the same directory, which is synced, renamed over the
// target, and the directory synced so that the rename itself survives.
//
// Every file a guichet program writes as state (keys, tokens, trust
// lists, vault records) goes through here, so they all have the same
// durability.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data, with permissions perm, atomically and
// durably. When it returns nil, the new content is on disk; when it
// fails, path holds what it held before and no temporary file is left.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, os.Rename)
}

// Create writes data to path, with permissions perm, only if path does not
// exist yet; otherwise it fails with an error matching fs.ErrExist and
// leaves path as it is. Like Write, it never leaves a partial file: a
// crash during Create leaves no file at all, so the next start creates it
// again rather than reading half of it.
func Create(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, os.Link)
}

// write puts data in a synced temporary file and hands it to path with
// place (os.Rename replaces, os.Link refuses an existing target).
func write(path string, data []byte, perm os.FileMode, place func(oldpath, newpath string) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		// After a rename the temporary name is gone and Remove fails
		// harmlessly; after a link, or a failure, it must go.
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("atomicfile: %w", rerr)
		}
	}()
	// CreateTemp makes the file 0600; perm is applied as given, not
	// through the umask, as os.WriteFile's would be for a new file.
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", path, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("atomicfile: close %s: %w", path, err)
	}
	if err := place(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return SyncDir(dir)
}

// SyncDir syncs directory dir, making the creation, renaming or removal
// of its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", dir, err)
	}
	return nil
}
