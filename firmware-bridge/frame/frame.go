// Package frame encodes and decodes the byte frames that the serial "SAM"
// modules of Chinese resident-ID card readers exchange with their host.
//
// The framing is the one of the Ministry of Public Security's SAM module
// communication protocol (UART transport, tables 3 and 4):
//
//	Preamble  AA AA AA 96 69
//	Len1 Len2 big-endian count of the bytes that follow them, checksum included
//	Body      CMD Para Data (host to module) or SW1 SW2 SW3 Data (module to host)
//	CHK_SUM   XOR of every byte after the preamble: Len1, Len2 and the body
//
// A reply that carries 3 status bytes and 1024 bytes of data thus has
// Len1 Len2 = 04 04. The package knows nothing of commands or status words:
// it cuts a byte stream into bodies, and the firmware-bridge/sam package gives
// them meaning.
package frame

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Preamble starts every frame in both directions. The first three bytes
// let a receiver synchronise, the last two mark the start of the frame.
var Preamble = []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

// Sizes of the fixed parts of a frame.
const (
	// HeaderLen is the preamble and the two length bytes.
	HeaderLen = 5 + 2
	// Overhead is what a frame adds to its body: header and checksum.
	Overhead = HeaderLen + 1
	// MaxBodyLen is the largest body the length field can describe.
	MaxBodyLen = 0xFFFF - 1
	// DefaultMaxBodyLen bounds the bodies a Decoder accepts unless told
	// otherwise. The largest reply of the protocol, base information with
	// fingerprints (30 10), carries 3+6+256+1024+1024 bytes; 4096 leaves room
	// and stops a corrupted length from making the receiver wait for 64 KiB.
	DefaultMaxBodyLen = 4096
)

// Errors reported by Decoder. They are wrapped with the details of the
// offending frame; test them with errors.Is.
var (
	// ErrChecksum: the XOR checksum does not match the frame.
	ErrChecksum = errors.New("frame: bad checksum")
	// ErrTooLong: the length field exceeds the decoder's limit.
	ErrTooLong = errors.New("frame: length exceeds limit")
	// ErrTooShort: the length field leaves no room for a body.
	ErrTooShort = errors.New("frame: length too short")
	// ErrIncomplete: more bytes are needed to finish the frame.
	ErrIncomplete = errors.New("frame: incomplete")
)

// Checksum returns the XOR of b, the protocol's CHK_SUM over the length
// bytes and body.
func Checksum(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// Append appends the frame carrying body to dst and returns the extended
// slice. It panics if body is empty or longer than MaxBodyLen, which is a
// programming error of the caller, not a condition of the wire.
func Append(dst, body []byte) []byte {
	if len(body) == 0 || len(body) > MaxBodyLen {
		panic(fmt.Sprintf("frame: body of %d bytes cannot be framed", len(body)))
	}
	n := len(body) + 1
	dst = append(dst, Preamble...)
	start := len(dst)
	dst = append(dst, byte(n>>8), byte(n))
	dst = append(dst, body...)
	return append(dst, Checksum(dst[start:]))
}

// Encode returns the frame carrying body. See Append.
func Encode(body []byte) []byte {
	return Append(make([]byte, 0, len(body)+Overhead), body)
}

// Decoder cuts a byte stream into frame bodies. Feed it bytes with Write as
// they arrive and call Next until it reports ErrIncomplete.
//
// Bytes before a preamble are skipped and counted in Skipped. After a bad
// checksum or an impossible length the decoder drops the first byte of the
// preamble it was looking at and searches again, so one corrupted frame does
// not cost the frames that follow it. The zero value is ready to use with
// DefaultMaxBodyLen.
type Decoder struct {
	// MaxBodyLen bounds the body of a frame; 0 means DefaultMaxBodyLen.
	MaxBodyLen int
	// Skipped counts the bytes discarded so far while resynchronising.
	Skipped int

	buf []byte // buf[r:] waits to be decoded
	r   int
}

// Write appends p to the bytes waiting to be decoded. It never fails.
func (d *Decoder) Write(p []byte) (int, error) {
	if d.r > 0 && d.r >= len(d.buf)/2 {
		// Compact lazily so that dropping one byte at a time through a
		// megabyte of junk stays linear.
		d.buf = d.buf[:copy(d.buf, d.buf[d.r:])]
		d.r = 0
	}
	d.buf = append(d.buf, p...)
	return len(p), nil
}

// Buffered reports how many bytes wait in the decoder.
func (d *Decoder) Buffered() int { return len(d.buf) - d.r }

// Reset discards the buffered bytes, as a host does before sending a new
// command so that a late reply to an abandoned one is not taken for the
// answer.
func (d *Decoder) Reset() {
	d.Skipped += d.Buffered()
	d.buf, d.r = d.buf[:0], 0
}

func (d *Decoder) max() int {
	switch {
	case d.MaxBodyLen <= 0:
		return DefaultMaxBodyLen
	case d.MaxBodyLen > MaxBodyLen:
		return MaxBodyLen
	}
	return d.MaxBodyLen
}

// Need reports how many more bytes the frame at the head of the buffer
// needs at least, or 1 when the decoder is still looking for a preamble.
func (d *Decoder) Need() int {
	b := d.buf[d.r:]
	i := bytes.Index(b, Preamble)
	if i < 0 || len(b)-i < HeaderLen {
		return 1
	}
	n := int(b[i+5])<<8 | int(b[i+6])
	if have := len(b) - i - HeaderLen; have < n {
		return n - have
	}
	return 1
}

// Next returns the body of the next complete frame, without its checksum.
// The body is a fresh slice the caller may keep. Next returns ErrIncomplete
// when it needs more bytes, and an error wrapping ErrChecksum, ErrTooLong or
// ErrTooShort for a bad frame, which it has already dropped: call Next again
// to go on with what follows.
func (d *Decoder) Next() ([]byte, error) {
	b := d.buf[d.r:]
	i := bytes.Index(b, Preamble)
	if i < 0 {
		// Keep a tail that may be the start of a preamble cut by the read.
		keep := min(len(b), len(Preamble)-1)
		for keep > 0 && !bytes.HasPrefix(Preamble, b[len(b)-keep:]) {
			keep--
		}
		d.drop(len(b) - keep)
		return nil, ErrIncomplete
	}
	d.drop(i)
	b = b[i:]
	if len(b) < HeaderLen {
		return nil, ErrIncomplete
	}
	n := int(b[5])<<8 | int(b[6])
	switch {
	case n < 2:
		d.drop(1)
		return nil, fmt.Errorf("%w: length %d, a frame needs a body byte and a checksum", ErrTooShort, n)
	case n-1 > d.max():
		d.drop(1)
		return nil, fmt.Errorf("%w: length %d, limit %d", ErrTooLong, n, d.max()+1)
	}
	if len(b) < HeaderLen+n {
		return nil, ErrIncomplete
	}
	got := b[HeaderLen+n-1]
	if want := Checksum(b[5 : HeaderLen+n-1]); got != want {
		d.drop(1)
		return nil, fmt.Errorf("%w: frame of length %d carries %#02x, computed %#02x", ErrChecksum, n, got, want)
	}
	body := bytes.Clone(b[HeaderLen : HeaderLen+n-1])
	d.r += HeaderLen + n
	if d.r == len(d.buf) {
		d.buf, d.r = d.buf[:0], 0
	}
	return body, nil
}

// drop discards the first n buffered bytes as skipped.
func (d *Decoder) drop(n int) {
	d.Skipped += n
	d.r += n
}

// Reader reads frame bodies from a byte stream, such as a serial port.
type Reader struct {
	r   io.Reader
	dec Decoder
	buf []byte
}

// NewReader returns a Reader of the frames on r, accepting bodies of up to
// maxBody bytes (0 for DefaultMaxBodyLen).
func NewReader(r io.Reader, maxBody int) *Reader {
	return &Reader{r: r, dec: Decoder{MaxBodyLen: maxBody}, buf: make([]byte, 512)}
}

// Skipped reports how many bytes the reader discarded while resynchronising.
func (r *Reader) Skipped() int { return r.dec.Skipped }

// Next returns the next frame's body. A bad frame gives an error wrapping
// ErrChecksum, ErrTooLong or ErrTooShort, after which Next may be called
// again. When the stream ends inside a frame Next returns an error wrapping
// io.ErrUnexpectedEOF; between frames, io.EOF. Other errors of the
// underlying reader are returned wrapped.
func (r *Reader) Next() ([]byte, error) {
	for {
		body, err := r.dec.Next()
		if !errors.Is(err, ErrIncomplete) {
			return body, err
		}
		n, rerr := r.r.Read(r.buf)
		r.dec.Write(r.buf[:n])
		if rerr != nil {
			if n > 0 {
				// Decode what arrived with the error first.
				if body, err := r.dec.Next(); !errors.Is(err, ErrIncomplete) {
					return body, err
				}
			}
			if errors.Is(rerr, io.EOF) {
				if r.dec.Buffered() > 0 {
					return nil, fmt.Errorf("frame: stream ended %d bytes into a frame: %w", r.dec.Buffered(), io.ErrUnexpectedEOF)
				}
				return nil, io.EOF
			}
			return nil, fmt.Errorf("frame: reading: %w", rerr)
		}
	}
}
