package vcard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/lds"
	"github.com/guichet/guichet/eid/icao/pace"
	"github.com/guichet/guichet/eid/icao/sm"
)

// Responder is a card as a reader sees it: an answer to reset, a reset,
// and a response APDU for each command APDU.
type Responder interface {
	ATR() []byte
	Reset()
	Respond(cmd []byte) []byte
}

// ATR is the answer to reset of the virtual card: direct convention, T=1,
// no historical bytes (ISO/IEC 7816-3 section 8), as a contactless reader
// reports for a type A/B chip without them.
var ATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// Card is the chip of a virtual ePassport. It is safe for concurrent use,
// though a reader talks to it one command at a time.
type Card struct {
	doc *Document
	rnd io.Reader

	mu       sync.Mutex
	appSel   bool
	chip     *bac.Chip
	pace     *pace.Chip // nil when the document offers no PACE
	sess     *sm.Session
	selected []byte
	// plainRead is true while the selected file is EF.CardAccess, the one
	// file read without access control.
	plainRead bool
}

// NewCard returns the chip holding doc. rnd supplies its nonces and PACE's
// ephemeral keys; crypto/rand when nil.
func NewCard(doc *Document, rnd io.Reader) *Card {
	if rnd == nil {
		rnd = rand.Reader
	}
	c := &Card{doc: doc, rnd: rnd}
	c.reset()
	return c
}

// reset puts the chip in its state after power-up.
func (c *Card) reset() {
	c.appSel, c.sess, c.selected, c.plainRead = false, nil, nil, false
	c.chip = bac.NewChip(c.doc.Keys, c.rnd)
	c.pace = nil
	if len(c.doc.PACE) > 0 {
		pws := []pace.Password{c.doc.MRZPassword}
		if c.doc.CAN != "" {
			can, _ := pace.CANPassword(c.doc.CAN)
			pws = append(pws, can)
		}
		c.pace = pace.NewChip(c.doc.PACE, pws, c.rnd)
	}
}

// ATR returns the answer to reset.
func (c *Card) ATR() []byte { return append([]byte(nil), ATR...) }

// Reset forgets the selected application, file and secure messaging
// session, as a power cycle does.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

func sw(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// Respond answers one command APDU.
func (c *Card) Respond(b []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) >= 1 && b[0]&0x0C == 0x0C {
		if c.sess == nil {
			return sw(apdu.SWSMMissing)
		}
		cmd, err := c.sess.UnprotectCommand(b)
		if err != nil {
			// Doc 9303 Part 11 9.8.4: on any SM error the chip aborts
			// the session and answers in plain.
			c.sess = nil
			if errors.Is(err, apdu.ErrMalformed) {
				return sw(apdu.SWWrongLength)
			}
			return sw(apdu.SWSMIncorrect)
		}
		return c.sess.ProtectResponse(c.handle(cmd, true))
	}
	// A plain command ends any secure messaging session.
	c.sess = nil
	cmd, err := apdu.ParseCommand(b)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	return c.handle(cmd, false).Bytes()
}

func (c *Card) handle(cmd apdu.Command, secured bool) apdu.Response {
	// A PACE run in progress ends with any command but its own.
	if c.pace != nil && (secured || cmd.INS != 0x22 && cmd.INS != 0x86) {
		c.pace.Reset()
	}
	// Command chaining (CLA 10) is for GENERAL AUTHENTICATE alone.
	if cmd.CLA != 0x00 && !(cmd.CLA == 0x10 && cmd.INS == 0x86) {
		return apdu.Response{SW: apdu.SWClaNotSupported}
	}
	switch cmd.INS {
	case 0xA4:
		return c.selectFile(cmd, secured)
	case 0xB0:
		if !secured && !(c.plainRead || cmd.P1 == 0x80|0x1C && !c.appSel) {
			return apdu.Response{SW: apdu.SWSecurityNotSatisfied}
		}
		return c.readBinary(cmd)
	case 0x22, 0x86:
		if c.pace == nil {
			return apdu.Response{SW: apdu.SWInsNotSupported}
		}
		if secured {
			return apdu.Response{SW: apdu.SWConditions}
		}
		r, sess := c.pace.Respond(cmd)
		if sess != nil {
			c.sess = sess
		}
		return r
	case 0x84, 0x82:
		if c.doc.NoBAC {
			return apdu.Response{SW: apdu.SWInsNotSupported}
		}
	}
	switch cmd.INS {
	case 0x84:
		if cmd.Ne != 8 || len(cmd.Data) != 0 {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		ch, err := c.chip.Challenge()
		if err != nil {
			return apdu.Response{SW: 0x6F00}
		}
		return apdu.Response{Data: ch, SW: apdu.SWOK}
	case 0x82:
		if secured {
			return apdu.Response{SW: apdu.SWConditions}
		}
		resp, sess, err := c.chip.Authenticate(cmd.Data)
		if err != nil {
			return apdu.Response{SW: apdu.SWAuthFailed}
		}
		c.sess = sess
		return apdu.Response{Data: resp, SW: apdu.SWOK}
	}
	return apdu.Response{SW: apdu.SWInsNotSupported}
}

func (c *Card) selectFile(cmd apdu.Command, secured bool) apdu.Response {
	switch cmd.P1 {
	case 0x04: // by DF name
		if !bytes.Equal(cmd.Data, lds.AID) {
			return apdu.Response{SW: apdu.SWFileNotFound}
		}
		c.appSel, c.selected, c.plainRead = true, nil, false
		return apdu.Response{SW: apdu.SWOK}
	case 0x00, 0x02: // by file identifier
		if len(cmd.Data) != 2 {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		fid := uint16(cmd.Data[0])<<8 | uint16(cmd.Data[1])
		if !c.appSel {
			// EF.CardAccess is the master file's one elementary file,
			// free to read so that the reader learns about PACE.
			f, ok := c.doc.Files[pace.FileCardAccess]
			if fid != pace.FileCardAccess || !ok {
				return apdu.Response{SW: apdu.SWFileNotFound}
			}
			c.selected, c.plainRead = f, true
			return apdu.Response{SW: apdu.SWOK}
		}
		if !secured {
			return apdu.Response{SW: apdu.SWSecurityNotSatisfied}
		}
		f, ok := c.doc.Files[fid]
		if !ok || fid == pace.FileCardAccess {
			return apdu.Response{SW: apdu.SWFileNotFound}
		}
		c.selected, c.plainRead = f, false
		return apdu.Response{SW: apdu.SWOK}
	}
	return apdu.Response{SW: 0x6A86}
}

func (c *Card) readBinary(cmd apdu.Command) apdu.Response {
	f := c.selected
	off := int(cmd.P1)<<8 | int(cmd.P2)
	if cmd.P1&0x80 != 0 {
		// Short EF identifier in P1 bits 1-5, offset in P2; the LDS
		// files' identifiers are 01 followed by their short identifier.
		fid := 0x0100 | uint16(cmd.P1&0x1F)
		var ok bool
		if f, ok = c.doc.Files[fid]; !ok || (fid == pace.FileCardAccess) == c.appSel {
			return apdu.Response{SW: apdu.SWFileNotFound}
		}
		c.selected, c.plainRead = f, fid == pace.FileCardAccess
		off = int(cmd.P2)
	}
	if f == nil {
		return apdu.Response{SW: 0x6986}
	}
	if off > len(f) {
		return apdu.Response{SW: apdu.SWWrongParameters}
	}
	end := min(len(f), off+cmd.Ne)
	r := apdu.Response{Data: f[off:end], SW: apdu.SWOK}
	if end-off < cmd.Ne {
		r.SW = apdu.SWEndOfFile
	}
	return r
}
