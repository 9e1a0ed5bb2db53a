package sam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// PhotoDecoder turns the card's photo, 1024 bytes in the WLT format that
// only licensed decoders read, into an image.
type PhotoDecoder interface {
	// DecodePhoto returns the image and its format: "bmp", "png", "jpeg"
	// or "jp2".
	DecodePhoto(ctx context.Context, wlt []byte) (img []byte, format string, err error)
}

// ExecDecoder decodes photos with an external command that reads the WLT
// bytes on its standard input and writes the image on its standard output,
// as the vendors' decoder libraries are wrapped on Linux.
type ExecDecoder struct {
	// Argv is the command and its arguments; it is run without a shell.
	Argv []string
	// Timeout bounds one run; 0 means 5 s.
	Timeout time.Duration
	// MaxOutput bounds the image; 0 means 4 MiB. A decoded card photo is a
	// 102×126 bitmap of about 38 KiB.
	MaxOutput int
}

// ErrPhoto marks a failure of the photo decoder.
var ErrPhoto = errors.New("sam: photo decoder failed")

// DecodePhoto runs the command. The format is told by the image's magic
// bytes; output that is none of the known formats is an error.
func (d ExecDecoder) DecodePhoto(ctx context.Context, wlt []byte) ([]byte, string, error) {
	if len(d.Argv) == 0 {
		return nil, "", fmt.Errorf("%w: no command configured", ErrPhoto)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	max := d.MaxOutput
	if max <= 0 {
		max = 4 << 20
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Argv[0], d.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(wlt)
	out := &limitedBuffer{max: max}
	var stderr limitedBuffer
	stderr.max = 512
	cmd.Stdout, cmd.Stderr = out, &stderr
	// Do not wait for grandchildren holding the pipes once the command is
	// killed.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case out.over:
		return nil, "", fmt.Errorf("%w: %s wrote more than %d bytes", ErrPhoto, d.Argv[0], max)
	case ctx.Err() != nil && err != nil:
		return nil, "", fmt.Errorf("%w: %s: %w", ErrPhoto, d.Argv[0], ctx.Err())
	case err != nil:
		return nil, "", fmt.Errorf("%w: %s: %v (stderr: %q)", ErrPhoto, d.Argv[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	format := ImageFormat(out.Bytes())
	if format == "" {
		return nil, "", fmt.Errorf("%w: %s wrote %d bytes of no known image format", ErrPhoto, d.Argv[0], len(out.Bytes()))
	}
	return out.Bytes(), format, nil
}

// ImageFormat tells the format of an image by its magic bytes: "bmp",
// "png", "jpeg", "jp2", or "" for none of them.
func ImageFormat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("BM")) && len(b) > 54:
		return "bmp"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  \r\n\x87\n")), bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51}):
		return "jp2"
	}
	return ""
}

// limitedBuffer keeps at most max bytes and notes an overflow; it keeps
// accepting writes so that the child does not die of a broken pipe first.
// It does not embed bytes.Buffer, whose ReadFrom io.Copy would use instead
// of Write.
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) Bytes() []byte { return b.buf.Bytes() }

var _ io.Writer = (*limitedBuffer)(nil)
