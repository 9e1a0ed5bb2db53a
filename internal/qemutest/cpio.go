package qemutest

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// Entry is one file, directory, symlink or device node of an initramfs.
type Entry struct {
	// Name is the path inside the archive, without a leading slash.
	Name string
	// Mode holds the permission bits and the type (fs.ModeDir,
	// fs.ModeSymlink, fs.ModeDevice|fs.ModeCharDevice).
	Mode fs.FileMode
	// Data is the file's content, or the symlink's target.
	Data []byte
	// Major and Minor number a device node.
	Major, Minor uint32
}

// WriteCPIO writes entries as a "newc" cpio archive (the format the kernel
// unpacks as initramfs, Documentation/driver-api/early-userspace/
// buffer-format.rst), then the TRAILER!!! record.
func WriteCPIO(w io.Writer, entries []Entry) error {
	cw := &countWriter{w: w}
	for i, e := range entries {
		if err := writeEntry(cw, uint32(i+1), e); err != nil {
			return fmt.Errorf("cpio %s: %w", e.Name, err)
		}
	}
	if err := writeEntry(cw, 0, Entry{Name: "TRAILER!!!"}); err != nil {
		return fmt.Errorf("cpio trailer: %w", err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countWriter) pad() error {
	if r := c.n % 4; r != 0 {
		_, err := c.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

func writeEntry(w *countWriter, ino uint32, e Entry) error {
	name := strings.TrimPrefix(path.Clean("/"+e.Name), "/")
	if e.Name == "TRAILER!!!" {
		name = e.Name
	}
	if name == "" || len(name) > 4095 {
		return fmt.Errorf("bad name %q", e.Name)
	}
	mode := uint32(e.Mode.Perm())
	nlink := uint32(1)
	switch {
	case e.Name == "TRAILER!!!":
		mode = 0
	case e.Mode.IsDir():
		mode |= 0o040000
		nlink = 2
	case e.Mode&fs.ModeSymlink != 0:
		mode |= 0o120000
	case e.Mode&fs.ModeCharDevice != 0:
		mode |= 0o020000
	case e.Mode.IsRegular():
		mode |= 0o100000
	default:
		return fmt.Errorf("unsupported mode %v", e.Mode)
	}
	if uint64(len(e.Data)) > 1<<32-1 {
		return fmt.Errorf("%d bytes is too big", len(e.Data))
	}
	fields := []uint32{ino, mode, 0, 0, nlink, 0, uint32(len(e.Data)), 0, 0, e.Major, e.Minor, uint32(len(name) + 1), 0}
	var hdr strings.Builder
	hdr.WriteString("070701")
	for _, f := range fields {
		fmt.Fprintf(&hdr, "%08x", f)
	}
	hdr.WriteString(name)
	hdr.WriteByte(0)
	if _, err := io.WriteString(w, hdr.String()); err != nil {
		return err
	}
	if err := w.pad(); err != nil {
		return err
	}
	if _, err := w.Write(e.Data); err != nil {
		return err
	}
	return w.pad()
}
