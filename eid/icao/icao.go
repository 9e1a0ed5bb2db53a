// Package icao reads an eMRTD chip (an e-passport or an ICAO-compliant ID
// card) as ICAO Doc 9303 lays down: it opens the chip with PACE (Part 11
// 4.4) when EF.CardAccess offers it, with the MRZ data or the card access
// number, or else with Basic Access Control (Part 11 4.3) and the MRZ data;
// it selects the eMRTD application (Part 10 3.1), reads EF.COM, DG1, DG2
// and EF.SOD under secure messaging (Part 11 9.8), and runs passive
// authentication (Part 11 5.1).
//
// The chip is reached through an apdu.Transmitter, so the same code reads a
// PC/SC card and the in-process virtual ePassport. The subpackages hold one
// protocol concept each: mrz, apdu, sm, bac, pace, lds and pa; BER-TLV
// comes from the module's one decoder, internal/ber.
//
// # PACE and BAC
//
// ReadCard follows the inspection procedure of Part 11 4.2: it reads
// EF.CardAccess in plain from the master file; if the file is there and
// names a PACE protocol implemented in package pace, it runs PACE (with the
// CAN when one is given, else with the MRZ data), then selects the eMRTD
// application under AES secure messaging. When EF.CardAccess is absent, or
// PACE fails for any reason but a broken transport, it falls back to BAC
// with the MRZ data, since a chip offering PACE may offer BAC too; the
// document records why in PACEFailed. With a CAN alone there is nothing to
// fall back to, and a refused CAN is ErrWrongCAN. Read is BAC alone, as
// before PACE.
package icao

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/lds"
	"github.com/guichet/guichet/eid/icao/mrz"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/pace"
	"github.com/guichet/guichet/eid/icao/sm"
	"github.com/guichet/guichet/internal/ber"
)

// Errors of Read besides those of bac and pa.
var (
	// ErrNotEMRTD: the card has no eMRTD application.
	ErrNotEMRTD = errors.New("icao: card has no eMRTD application")
	// ErrBadAnswer: the chip answered outside the protocol (garbage,
	// wrong MAC, malformed file).
	ErrBadAnswer = errors.New("icao: chip answered outside the protocol")
	// ErrAccessDenied: Basic Access Control failed, the MRZ data is wrong.
	ErrAccessDenied = bac.ErrAccessDenied
)

// ChunkSize is the number of bytes asked per READ BINARY: the largest that
// keeps a 3DES-protected answer within a short response APDU (224 bytes of
// data pad to 232, plus 18 bytes of DO'87', DO'99', DO'8E' headers and MAC).
const ChunkSize = 0xE0

// ChunkSizeAES is ChunkSize under AES secure messaging, whose 16-byte
// blocks pad 224 bytes to 240, two bytes too many: 223 pad to 224.
const ChunkSizeAES = 0xDF

// maxFile is the largest file READ BINARY can reach with a 15-bit offset
// (ISO/IEC 7816-4 7.2.3, even INS), which is all Doc 9303 asks of readers.
const maxFile = 0x7FFF + ChunkSize

// Options tune Read.
type Options struct {
	// CSCA holds the trusted country signing CAs. Without it the data
	// groups and the signature are still checked, but the document is not
	// Verified.
	CSCA *pa.Pool
	// Rand supplies the reader's nonces; crypto/rand when nil.
	Rand io.Reader
	// SkipPhoto leaves DG2 unread.
	SkipPhoto bool
}

// Document is what Read found on the chip.
type Document struct {
	COM     *lds.COM
	MRZ     *mrz.Document
	MRZText string
	// Face is the first face image of DG2, nil if DG2 was not read.
	Face *lds.Face
	// Files holds the raw content of the data groups read, by number.
	Files map[int][]byte
	// SOD is the raw EF.SOD, nil if the chip has none.
	SOD []byte
	// Verified is true when passive authentication succeeded in full:
	// every data group read matches its hash, the document signer's
	// signature verifies and a configured CSCA issued the signer.
	Verified bool
	// Unverified says why Verified is false when the data is intact but
	// its origin could not be established (no EF.SOD, unknown CSCA).
	Unverified error
	// Access names how the chip was opened, for logs: "BAC", or the PACE
	// protocol, curve and password, as in "PACE-ECDH-GM-AES-CBC-CMAC-128
	// brainpoolP256r1 with the CAN".
	Access string
	// PACEFailed says why the chip, which offers PACE, was opened with
	// BAC instead; nil when PACE was used or not offered.
	PACEFailed error
}

func badAnswer(err error) error {
	if errors.Is(err, ErrBadAnswer) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadAnswer, err)
}

// isProtocol reports whether err comes from the chip's answers rather than
// from the transport, so that Read can classify it.
func isProtocol(err error) bool {
	for _, e := range []error{apdu.ErrMalformed, sm.ErrMAC, sm.ErrMalformed, sm.ErrPadding, bac.ErrBadAnswer, pace.ErrBadAnswer, pace.ErrMalformed, lds.ErrMalformed, ber.ErrTruncated, ber.ErrBadTag, ber.ErrBadLength} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Read reads the chip behind t with Basic Access Control alone and the
// document basic access keys k.
func Read(ctx context.Context, t apdu.Transmitter, k bac.Keys, opts Options) (*Document, error) {
	d, err := read(ctx, t, k, opts)
	if err != nil && isProtocol(err) {
		return nil, badAnswer(err)
	}
	return d, err
}

func read(ctx context.Context, t apdu.Transmitter, k bac.Keys, opts Options) (*Document, error) {
	if err := selectApplication(ctx, &channel{t: t}); err != nil {
		return nil, err
	}
	s, err := bac.Authenticate(ctx, t, k, opts.Rand)
	if err != nil {
		return nil, err
	}
	return readDocument(ctx, &channel{t: t, s: s}, &Document{Access: "BAC"}, opts)
}

// selectApplication selects the eMRTD application through c, in plain
// before BAC or under secure messaging after PACE.
func selectApplication(ctx context.Context, c *channel) error {
	r, err := c.send(ctx, apdu.Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: lds.AID})
	if err != nil {
		return fmt.Errorf("icao: select application: %w", err)
	}
	switch r.SW {
	case apdu.SWOK:
		return nil
	case apdu.SWFileNotFound, 0x6A86, apdu.SWInsNotSupported, apdu.SWClaNotSupported:
		return ErrNotEMRTD
	}
	return fmt.Errorf("icao: %w", &apdu.StatusError{Op: "select application", SW: r.SW})
}

// readDocument reads the files through the opened channel c into d and
// checks them.
func readDocument(ctx context.Context, c *channel, d *Document, opts Options) (*Document, error) {
	d.Files = map[int][]byte{}
	com, err := c.readFile(ctx, lds.FileCOM, "EF.COM")
	if err != nil {
		return nil, err
	}
	if d.COM, err = lds.ParseCOM(com); err != nil {
		return nil, err
	}
	want := []int{1}
	if d.COM.Has(2) && !opts.SkipPhoto {
		want = append(want, 2)
	}
	for _, n := range want {
		b, err := c.readFile(ctx, lds.FileID(n), fmt.Sprintf("DG%d", n))
		if err != nil {
			return nil, err
		}
		d.Files[n] = b
	}
	d.SOD, err = c.readFile(ctx, lds.FileSOD, "EF.SOD")
	var se *apdu.StatusError
	if errors.As(err, &se) && se.SW == apdu.SWFileNotFound {
		d.SOD, err = nil, nil
	}
	if err != nil {
		return nil, err
	}

	// Check the hashes before parsing, so that a tampered file is
	// reported as tampered rather than as whatever it now fails to be.
	if err := authenticate(d, opts.CSCA); err != nil {
		return nil, err
	}
	if d.MRZ, d.MRZText, err = lds.ParseDG1(d.Files[1]); err != nil {
		return nil, err
	}
	if b, ok := d.Files[2]; ok {
		faces, err := lds.ParseDG2(b)
		if err != nil {
			return nil, err
		}
		d.Face = &faces[0]
	}
	return d, nil
}

// authenticate runs passive authentication over the files in d. A data
// group that does not match, or a signature that does not verify, is an
// error; an unknown signer leaves the document readable but unverified.
func authenticate(d *Document, csca *pa.Pool) error {
	if d.SOD == nil {
		d.Unverified = errors.New("icao: the chip has no EF.SOD")
		return nil
	}
	cms, err := lds.ParseSOD(d.SOD)
	if err != nil {
		return err
	}
	sod, err := pa.Parse(cms)
	if err != nil {
		return err
	}
	for n, b := range d.Files {
		if err := sod.CheckDataGroup(n, b); err != nil {
			return err
		}
	}
	if err := sod.VerifySignature(); err != nil {
		return err
	}
	if err := sod.VerifySigner(csca); err != nil {
		d.Unverified = err
		return nil
	}
	d.Verified = true
	return nil
}

// channel sends commands under secure messaging, or in plain while s is
// nil (EF.CardAccess, which is read before any access control).
type channel struct {
	t apdu.Transmitter
	s *sm.Session
}

func (c *channel) send(ctx context.Context, cmd apdu.Command) (apdu.Response, error) {
	if err := ctx.Err(); err != nil {
		return apdu.Response{}, err
	}
	if c.s == nil {
		return apdu.Send(ctx, c.t, cmd)
	}
	b, err := c.s.Protect(cmd)
	if err != nil {
		return apdu.Response{}, err
	}
	resp, err := c.t.Transmit(ctx, b)
	if err != nil {
		return apdu.Response{}, err
	}
	return c.s.Unprotect(resp)
}

// readFile selects the elementary file fid and reads it whole: first its
// tag and length, then the rest in chunks (Doc 9303 Part 10 3.6 and
// Part 11 Appendix D.4).
func (c *channel) readFile(ctx context.Context, fid uint16, name string) ([]byte, error) {
	r, err := c.send(ctx, apdu.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}})
	if err != nil {
		return nil, fmt.Errorf("icao: select %s: %w", name, err)
	}
	if r.SW != apdu.SWOK {
		return nil, fmt.Errorf("icao: %w", &apdu.StatusError{Op: "select " + name, SW: r.SW})
	}
	head, err := c.readBinary(ctx, 0, 4, name)
	if err != nil {
		return nil, err
	}
	_, hdr, n, err := ber.Header(head)
	if errors.Is(err, ber.ErrTruncated) && len(head) == 4 {
		// Lengths of three or four bytes need two more header bytes.
		more, err2 := c.readBinary(ctx, 4, 2, name)
		if err2 != nil {
			return nil, err2
		}
		head = append(head, more...)
		_, hdr, n, err = ber.Header(head)
	}
	if err != nil {
		return nil, fmt.Errorf("icao: %s header: %w", name, err)
	}
	total := hdr + n
	if total > maxFile {
		return nil, fmt.Errorf("icao: %s is %d bytes, beyond the %d that READ BINARY with even INS reaches", name, total, maxFile)
	}
	file := make([]byte, 0, total)
	file = append(file, head[:min(len(head), total)]...)
	size := ChunkSize
	if c.s != nil && c.s.BlockSize() == 16 {
		size = ChunkSizeAES
	}
	for len(file) < total {
		chunk, err := c.readBinary(ctx, len(file), min(size, total-len(file)), name)
		if err != nil {
			return nil, err
		}
		file = append(file, chunk...)
	}
	return file, nil
}

func (c *channel) readBinary(ctx context.Context, off, n int, name string) ([]byte, error) {
	r, err := c.send(ctx, apdu.Command{INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: n})
	if err != nil {
		return nil, fmt.Errorf("icao: read %s at %d: %w", name, off, err)
	}
	if r.SW != apdu.SWOK && !(r.SW == apdu.SWEndOfFile && len(r.Data) > 0) {
		return nil, fmt.Errorf("icao: %w", &apdu.StatusError{Op: fmt.Sprintf("read %s at %d", name, off), SW: r.SW})
	}
	if len(r.Data) == 0 || len(r.Data) > n {
		return nil, fmt.Errorf("%w: read %s at %d: %d bytes for %d asked", ErrBadAnswer, name, off, len(r.Data), n)
	}
	return r.Data, nil
}
