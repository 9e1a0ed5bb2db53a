// Package dfu updates the firmware of a serial peripheral: the host's side
// of the guichet firmware update protocol, designed after MCUboot (A/B
// slots, test boot, confirm or revert, security counter) and SUIT (a
// signed manifest ahead of the image). docs/firmware-bridge.md describes
// the protocol for the authors of the peripheral's side.
//
// Every message is one frame:
//
//	sync    A5 C3
//	type    1 byte: a command (01..7F), its reply (command | 80) or NAK (FF)
//	seq     1 byte chosen by the host, echoed in the reply
//	length  2 bytes, little-endian: the payload's length, at most MaxPayload
//	payload
//	crc     4 bytes, little-endian: CRC-32 (IEEE 802.3, as zlib's crc32) of
//	        type, seq, length and payload
//
// The host sends one command and waits for its reply (stop and wait); a
// chunk of the image travels in a DATA command with its offset, and the
// reply acknowledges the offset the peripheral wants next. The peripheral
// answers a frame it cannot decode (bad CRC, impossible length) with a NAK
// carrying that offset, so a corrupted chunk costs one resend, not a
// timeout.
package dfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/guichet/guichet/firmware-bridge/manifest"
)

// Sizes of the frame.
const (
	// HeaderLen is sync, type, seq and length.
	HeaderLen = 6
	// Overhead is what a frame adds to its payload: header and CRC.
	Overhead = HeaderLen + 4
	// MaxChunk is the largest chunk of image a DATA command carries.
	MaxChunk = 4096
	// MaxPayload is the largest payload of any frame: a DATA command of
	// MaxChunk bytes and its offset.
	MaxPayload = 4 + MaxChunk
	// ProtocolVersion is the version this package speaks, reported by the
	// peripheral in its INFO reply.
	ProtocolVersion = 1
)

// Sync starts every frame.
var Sync = [2]byte{0xA5, 0xC3}

// Type is a frame's type: a command, a reply (command | 0x80) or NAK.
type Type byte

// Commands, sent by the host.
const (
	// CmdInfo asks for the peripheral's Info. Empty payload.
	CmdInfo Type = 0x01
	// CmdBegin opens an upload: the payload is the 140-byte manifest; the
	// reply carries the offset to send from (0, or where an interrupted
	// upload of the same manifest stopped).
	CmdBegin Type = 0x02
	// CmdData carries a chunk: offset (4 bytes) and data. The reply
	// carries the offset wanted next.
	CmdData Type = 0x03
	// CmdVerify asks the bootloader to check the received image against
	// the manifest's size and digest. Empty payload.
	CmdVerify Type = 0x04
	// CmdActivate marks the verified image to boot once in test mode and
	// resets the peripheral after the reply. Empty payload.
	CmdActivate Type = 0x05
	// CmdPing is answered by the running application only. Empty payload.
	CmdPing Type = 0x06
	// CmdConfirm makes the image running in test mode permanent and raises
	// the security counter to its manifest's. Empty payload.
	CmdConfirm Type = 0x07
)

// ReplyFlag marks a reply: its type is the command's with this bit set.
const ReplyFlag Type = 0x80

// NAK is the peripheral's answer to a frame it could not decode.
const NAK Type = 0xFF

// String returns the command's name, as docs/firmware-bridge.md writes it.
func (t Type) String() string {
	switch t {
	case CmdInfo:
		return "INFO"
	case CmdBegin:
		return "BEGIN"
	case CmdData:
		return "DATA"
	case CmdVerify:
		return "VERIFY"
	case CmdActivate:
		return "ACTIVATE"
	case CmdPing:
		return "PING"
	case CmdConfirm:
		return "CONFIRM"
	case NAK:
		return "NAK"
	}
	if t&ReplyFlag != 0 {
		return (t &^ ReplyFlag).String() + " reply"
	}
	return fmt.Sprintf("type %#02x", byte(t))
}

// Status is the first payload byte of every reply.
type Status byte

// Statuses of a reply.
const (
	StatusOK          Status = 0x00
	StatusBadFrame    Status = 0x01 // NAK: bad CRC or length
	StatusUnknown     Status = 0x02 // unknown command
	StatusState       Status = 0x03 // command not allowed in this state
	StatusMalformed   Status = 0x04 // payload of the wrong length or content
	StatusSignature   Status = 0x05 // manifest not signed by the bootloader's key
	StatusClass       Status = 0x06 // manifest for another device class
	StatusDowngrade   Status = 0x07 // manifest counter below the stored one
	StatusTooLarge    Status = 0x08 // image larger than a slot
	StatusOffset      Status = 0x09 // DATA at another offset than wanted
	StatusDigest      Status = 0x0A // received image does not match the manifest
	StatusFlash       Status = 0x0B // writing or erasing the slot failed
	StatusNoImage     Status = 0x0C // no application to answer (bootloader only)
	StatusNotInTest   Status = 0x0D // CONFIRM with no image in test mode
	StatusBadManifest Status = 0x0E // manifest malformed
)

var statusNames = map[Status]string{
	StatusOK: "ok", StatusBadFrame: "bad frame", StatusUnknown: "unknown command", StatusState: "not allowed in this state",
	StatusMalformed: "malformed payload", StatusSignature: "manifest not signed by the bootloader's key",
	StatusClass: "manifest for another device class", StatusDowngrade: "downgrade: security counter below the stored one",
	StatusTooLarge: "image larger than a slot", StatusOffset: "chunk at another offset than wanted",
	StatusDigest: "image does not match the manifest", StatusFlash: "flash write failed",
	StatusNoImage: "no application running", StatusNotInTest: "no image in test mode",
	StatusBadManifest: "malformed manifest",
}

// String returns the status code's name.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status %#02x", byte(s))
}

// Error makes a Status an error, so a refusal can be tested with
// errors.Is(err, dfu.StatusDowngrade).
func (s Status) Error() string { return "dfu: peripheral: " + s.String() }

// Frame is one decoded frame.
type Frame struct {
	Type    Type
	Seq     byte
	Payload []byte
}

// AppendFrame appends the frame of typ, seq and payload to dst. It panics
// if payload is longer than MaxPayload, a programming error.
func AppendFrame(dst []byte, typ Type, seq byte, payload []byte) []byte {
	if len(payload) > MaxPayload {
		panic(fmt.Sprintf("dfu: payload of %d bytes cannot be framed", len(payload)))
	}
	dst = append(dst, Sync[:]...)
	start := len(dst)
	dst = append(dst, byte(typ), seq)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(payload)))
	dst = append(dst, payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// Errors of Decoder, wrapped with details.
var (
	// ErrCRC: the frame's CRC does not match.
	ErrCRC = errors.New("dfu: bad frame CRC")
	// ErrTooLong: the length field exceeds MaxPayload.
	ErrTooLong = errors.New("dfu: frame length exceeds limit")
	// ErrIncomplete: more bytes are needed.
	ErrIncomplete = errors.New("dfu: incomplete frame")
)

// Decoder cuts a byte stream into frames. Feed it with Write and call Next
// until it reports ErrIncomplete. After a bad CRC or an impossible length
// it drops the first sync byte and searches again, so one damaged frame
// does not cost the ones after it. The zero value is ready to use.
type Decoder struct {
	// Skipped counts the bytes discarded while resynchronising.
	Skipped int

	buf []byte
	r   int
}

// Write appends p to the bytes waiting. It never fails.
func (d *Decoder) Write(p []byte) (int, error) {
	if d.r > 0 && d.r >= len(d.buf)/2 {
		d.buf = d.buf[:copy(d.buf, d.buf[d.r:])]
		d.r = 0
	}
	d.buf = append(d.buf, p...)
	return len(p), nil
}

// Buffered reports how many bytes wait.
func (d *Decoder) Buffered() int { return len(d.buf) - d.r }

// Reset discards the bytes waiting.
func (d *Decoder) Reset() {
	d.Skipped += d.Buffered()
	d.buf, d.r = d.buf[:0], 0
}

// Next returns the next complete frame; its payload is a fresh slice. A
// damaged frame gives an error wrapping ErrCRC or ErrTooLong and is
// dropped: call Next again for what follows.
func (d *Decoder) Next() (Frame, error) {
	b := d.buf[d.r:]
	i := bytes.Index(b, Sync[:])
	if i < 0 {
		// Keep a last byte that may be the first of a sync cut by a read.
		keep := 0
		if len(b) > 0 && b[len(b)-1] == Sync[0] {
			keep = 1
		}
		d.drop(len(b) - keep)
		return Frame{}, ErrIncomplete
	}
	d.drop(i)
	b = b[i:]
	if len(b) < HeaderLen {
		return Frame{}, ErrIncomplete
	}
	n := int(binary.LittleEndian.Uint16(b[4:6]))
	if n > MaxPayload {
		d.drop(1)
		return Frame{}, fmt.Errorf("%w: length %d, limit %d", ErrTooLong, n, MaxPayload)
	}
	end := HeaderLen + n + 4
	if len(b) < end {
		return Frame{}, ErrIncomplete
	}
	if got, want := binary.LittleEndian.Uint32(b[end-4:end]), crc32.ChecksumIEEE(b[2:end-4]); got != want {
		d.drop(1)
		return Frame{}, fmt.Errorf("%w: %s frame of %d bytes carries %08x, computed %08x", ErrCRC, Type(b[2]), n, got, want)
	}
	f := Frame{Type: Type(b[2]), Seq: b[3], Payload: bytes.Clone(b[HeaderLen : HeaderLen+n])}
	d.r += end
	if d.r == len(d.buf) {
		d.buf, d.r = d.buf[:0], 0
	}
	return f, nil
}

func (d *Decoder) drop(n int) {
	d.Skipped += n
	d.r += n
}

// Mode says what runs on the peripheral.
type Mode byte

// Modes of the peripheral.
const (
	// ModeBootloader: no valid application; only the update commands are
	// answered (MCUboot's serial recovery).
	ModeBootloader Mode = 0
	// ModeApplication: an application runs and answers PING.
	ModeApplication Mode = 1
)

// String returns the boot mode's name.
func (m Mode) String() string {
	switch m {
	case ModeBootloader:
		return "bootloader"
	case ModeApplication:
		return "application"
	}
	return fmt.Sprintf("mode %d", byte(m))
}

// ImageState is the state of the running image.
type ImageState byte

// Image states.
const (
	ImageNone      ImageState = 0 // nothing runs
	ImageConfirmed ImageState = 1 // permanent
	ImageTest      ImageState = 2 // booted once in test mode; reverts unless confirmed
)

// String returns the slot state's name.
func (s ImageState) String() string {
	switch s {
	case ImageNone:
		return "none"
	case ImageConfirmed:
		return "confirmed"
	case ImageTest:
		return "test"
	}
	return fmt.Sprintf("image state %d", byte(s))
}

// UploadState is where the peripheral's receiving side stands.
type UploadState byte

// Upload states (see the state machine in docs/firmware-bridge.md).
const (
	UploadIdle      UploadState = 0 // no upload open
	UploadReceiving UploadState = 1 // BEGIN accepted, chunks expected
	UploadReceived  UploadState = 2 // every byte received, VERIFY expected
	UploadVerified  UploadState = 3 // VERIFY passed, ACTIVATE expected
)

// String returns the upload state's name.
func (s UploadState) String() string {
	switch s {
	case UploadIdle:
		return "idle"
	case UploadReceiving:
		return "receiving"
	case UploadReceived:
		return "received"
	case UploadVerified:
		return "verified"
	}
	return fmt.Sprintf("upload state %d", byte(s))
}

// Info is the payload of the INFO reply, after its status byte.
type Info struct {
	Protocol   byte
	Mode       Mode
	Image      ImageState
	Slot       byte // running slot: 0 for A, 1 for B, 0xFF for none
	Upload     UploadState
	MaxChunk   uint16 // largest chunk the peripheral accepts
	SlotSize   uint32
	Counter    uint32 // the stored security counter
	Received   uint32 // bytes of the open upload received
	UploadSize uint32 // size of the open upload's image
	Version    manifest.Version
	Class      string
	Digest     [32]byte // SHA-256 of the running image
}

// InfoLen is the length of an INFO reply's payload, status included.
const InfoLen = 76

// AppendInfo appends the INFO reply payload (status OK and i) to b.
func AppendInfo(b []byte, i Info) []byte {
	b = append(b, byte(StatusOK), i.Protocol, byte(i.Mode), byte(i.Image), i.Slot, byte(i.Upload))
	b = binary.LittleEndian.AppendUint16(b, i.MaxChunk)
	b = binary.LittleEndian.AppendUint32(b, i.SlotSize)
	b = binary.LittleEndian.AppendUint32(b, i.Counter)
	b = binary.LittleEndian.AppendUint32(b, i.Received)
	b = binary.LittleEndian.AppendUint32(b, i.UploadSize)
	b = appendVersion(b, i.Version)
	var class [manifest.MaxClassLen]byte
	copy(class[:], i.Class)
	b = append(b, class[:]...)
	return append(b, i.Digest[:]...)
}

func appendVersion(b []byte, v manifest.Version) []byte {
	b = append(b, v.Major, v.Minor)
	return binary.LittleEndian.AppendUint16(b, v.Patch)
}

func parseVersion(b []byte) manifest.Version {
	return manifest.Version{Major: b[0], Minor: b[1], Patch: binary.LittleEndian.Uint16(b[2:4])}
}

// ParseInfo decodes an INFO reply payload (status included). The
// peripheral is not trusted: lengths and values are checked.
func ParseInfo(p []byte) (Info, error) {
	if err := replyStatus(p, InfoLen); err != nil {
		return Info{}, err
	}
	i := Info{
		Protocol: p[1], Mode: Mode(p[2]), Image: ImageState(p[3]), Slot: p[4], Upload: UploadState(p[5]),
		MaxChunk:   binary.LittleEndian.Uint16(p[6:8]),
		SlotSize:   binary.LittleEndian.Uint32(p[8:12]),
		Counter:    binary.LittleEndian.Uint32(p[12:16]),
		Received:   binary.LittleEndian.Uint32(p[16:20]),
		UploadSize: binary.LittleEndian.Uint32(p[20:24]),
		Version:    parseVersion(p[24:28]),
	}
	class := p[28:44]
	if n := bytes.IndexByte(class, 0); n >= 0 {
		class = class[:n]
	}
	i.Class = string(class)
	copy(i.Digest[:], p[44:76])
	switch {
	case i.Mode > ModeApplication:
		return Info{}, fmt.Errorf("%w: INFO: %s", ErrReply, i.Mode)
	case i.Image > ImageTest:
		return Info{}, fmt.Errorf("%w: INFO: %s", ErrReply, i.Image)
	case i.Upload > UploadVerified:
		return Info{}, fmt.Errorf("%w: INFO: %s", ErrReply, i.Upload)
	case i.Slot > 1 && i.Slot != 0xFF:
		return Info{}, fmt.Errorf("%w: INFO: slot %d", ErrReply, i.Slot)
	case i.Received > i.UploadSize:
		return Info{}, fmt.Errorf("%w: INFO: received %d of %d", ErrReply, i.Received, i.UploadSize)
	case i.MaxChunk == 0:
		return Info{}, fmt.Errorf("%w: INFO: maximum chunk 0", ErrReply)
	case len(i.Class) > 0 && !manifest.ValidClass(i.Class):
		return Info{}, fmt.Errorf("%w: INFO: device class %q", ErrReply, i.Class)
	}
	return i, nil
}

// Pong is the payload of the PING reply, after its status byte.
type Pong struct {
	Image   ImageState
	Version manifest.Version
	Digest  [32]byte // SHA-256 of the running image
}

// PongLen is the length of a PING reply's payload, status included.
const PongLen = 38

// AppendPong appends the PING reply payload (status OK and p) to b.
func AppendPong(b []byte, p Pong) []byte {
	b = append(b, byte(StatusOK), byte(p.Image))
	b = appendVersion(b, p.Version)
	return append(b, p.Digest[:]...)
}

// ParsePong decodes a PING reply payload (status included).
func ParsePong(p []byte) (Pong, error) {
	if err := replyStatus(p, PongLen); err != nil {
		return Pong{}, err
	}
	r := Pong{Image: ImageState(p[1]), Version: parseVersion(p[2:6])}
	copy(r.Digest[:], p[6:38])
	if r.Image != ImageConfirmed && r.Image != ImageTest {
		return Pong{}, fmt.Errorf("%w: PING: %s", ErrReply, r.Image)
	}
	return r, nil
}

// OffsetLen is the length of the replies that carry an offset (BEGIN,
// DATA, NAK) or a counter (CONFIRM): status and a 4-byte number.
const OffsetLen = 5

// AppendOffset appends a status and a 4-byte number to b.
func AppendOffset(b []byte, s Status, n uint32) []byte {
	return binary.LittleEndian.AppendUint32(append(b, byte(s)), n)
}

// ParseOffset decodes a reply of status and 4-byte number. It returns the
// number with a non-OK status too (as the error), since DATA and NAK
// replies carry the wanted offset with their refusal; a refusal may also
// come as the status byte alone.
func ParseOffset(p []byte) (uint32, error) {
	if len(p) == 1 && Status(p[0]) != StatusOK {
		return 0, Status(p[0]) // a refusal without a number
	}
	if len(p) != OffsetLen {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrReply, len(p), OffsetLen)
	}
	n := binary.LittleEndian.Uint32(p[1:5])
	if s := Status(p[0]); s != StatusOK {
		return n, s
	}
	return n, nil
}

// ParseStatus decodes a reply of a status byte alone.
func ParseStatus(p []byte) error { return replyStatus(p, 1) }

// ErrReply: a reply that does not fit its command.
var ErrReply = errors.New("dfu: malformed reply")

// replyStatus checks a reply's length and returns its status as an error.
// A refusal may come as the status byte alone whatever the command.
func replyStatus(p []byte, want int) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty", ErrReply)
	}
	if s := Status(p[0]); s != StatusOK {
		if len(p) != 1 {
			return fmt.Errorf("%w: %s with %d bytes", ErrReply, s, len(p)-1)
		}
		return s
	}
	if len(p) != want {
		return fmt.Errorf("%w: %d bytes, want %d", ErrReply, len(p), want)
	}
	return nil
}

// AppendData appends a DATA command payload: offset and chunk.
func AppendData(b []byte, off uint32, chunk []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(b, off), chunk...)
}

// ParseData decodes a DATA command payload.
func ParseData(p []byte) (off uint32, chunk []byte, err error) {
	if len(p) < 5 {
		return 0, nil, fmt.Errorf("dfu: DATA of %d bytes: want an offset and at least one byte", len(p))
	}
	return binary.LittleEndian.Uint32(p[:4]), p[4:], nil
}
