package credential

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/guichet/guichet/eid/credential/base45"
)

// DefaultPrefix starts every guichet e-ID code; the digit is the format
// version.
const DefaultPrefix = "GEID1:"

// Size limits of a code.
const (
	// MaxTextLen bounds the text of a code: a version-40 QR code holds at
	// most 4296 alphanumeric characters (ISO/IEC 18004 table 7), so
	// anything longer did not come from a QR code.
	MaxTextLen = 4400
	// MaxPayload bounds the inflated COSE message, so that a zlib bomb
	// gets an error rather than the memory. Real codes inflate to a few
	// hundred bytes.
	MaxPayload = 16 << 10
)

// qrAlphanumeric is the QR alphanumeric character set (ISO/IEC 18004
// table 5), which is also the Base45 alphabet.
const qrAlphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// checkPrefix refuses a prefix that would force a QR code out of
// alphanumeric mode.
func checkPrefix(p string) error {
	if p == "" {
		return errors.New("eid: empty prefix")
	}
	for _, r := range p {
		if !strings.ContainsRune(qrAlphanumeric, r) {
			return fmt.Errorf("eid: prefix %q has %q, outside the QR alphanumeric set", p, r)
		}
	}
	return nil
}

// wrap compresses and encodes a COSE message into the text of a code.
func wrap(prefix string, msg []byte) (string, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(msg); err != nil {
		return "", fmt.Errorf("eid: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("eid: compress: %w", err)
	}
	return prefix + base45.Encode(buf.Bytes()), nil
}

// unwrap undoes wrap, refusing with the reason each layer fails for.
func unwrap(prefix, text string) ([]byte, error) {
	if len(text) > MaxTextLen {
		return nil, refuse(ReasonTooBig, "text of %d characters, at most %d fit in a QR code", len(text), MaxTextLen)
	}
	body, ok := strings.CutPrefix(text, prefix)
	if !ok {
		return nil, refuse(ReasonBadPrefix, "text does not start with %q", prefix)
	}
	compressed, err := base45.Decode(body)
	if err != nil {
		return nil, refuse(ReasonBadBase45, "%v", err)
	}
	return inflate(compressed, MaxPayload)
}

// inflate decompresses a zlib stream (RFC 1950) of at most max bytes. It
// reads to the end so that the Adler-32 checksum is checked, and refuses
// bytes after the stream.
func inflate(data []byte, max int) ([]byte, error) {
	br := bytes.NewReader(data)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, refuse(ReasonDecompress, "zlib: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, refuse(ReasonDecompress, "zlib: %v", err)
	}
	if len(out) > max {
		return nil, refuse(ReasonTooBig, "inflates to more than %d bytes", max)
	}
	// The bytes.Reader is an io.ByteReader, so zlib read no further than
	// its stream and br.Len is what follows it.
	if br.Len() != 0 {
		return nil, refuse(ReasonDecompress, "%d bytes after the zlib stream", br.Len())
	}
	return out, nil
}
