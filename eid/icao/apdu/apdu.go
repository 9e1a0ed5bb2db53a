// Package apdu encodes and decodes the command and response APDUs of
// ISO/IEC 7816-4 (section 5.1) in their short form, which is all that ICAO
// Doc 9303 Part 10 requires of a reader, and sends them through a
// Transmitter, the one thing a card reader driver has to provide.
package apdu

import (
	"context"
	"errors"
	"fmt"
)

// Transmitter sends one command APDU to a card and returns its response
// APDU (data and the two status bytes). A PC/SC card, the virtual ePassport
// and a secure messaging session are all Transmitters.
type Transmitter interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// TransmitFunc adapts a function to Transmitter.
type TransmitFunc func(ctx context.Context, cmd []byte) ([]byte, error)

// Transmit calls f.
func (f TransmitFunc) Transmit(ctx context.Context, cmd []byte) ([]byte, error) { return f(ctx, cmd) }

// Status words of ISO/IEC 7816-4 section 5.6 that the readers test for.
const (
	SWOK                   = 0x9000
	SWSecurityNotSatisfied = 0x6982
	SWAuthFailed           = 0x6300
	SWFileNotFound         = 0x6A82
	SWWrongParameters      = 0x6B00
	SWInsNotSupported      = 0x6D00
	SWClaNotSupported      = 0x6E00
	SWWrongLength          = 0x6700
	SWSMMissing            = 0x6987
	SWSMIncorrect          = 0x6988
	SWConditions           = 0x6985
	SWEndOfFile            = 0x6282
)

// ErrMalformed is returned for bytes that are not an APDU.
var ErrMalformed = errors.New("apdu: malformed")

// Command is a command APDU. Ne is the number of response bytes expected:
// 0 for none (no Le field), 1 to 256 otherwise (256 encodes as Le=00).
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
}

// Bytes encodes c in the short form (ISO/IEC 7816-4 5.1, cases 1 to 4).
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > 255 {
		return nil, fmt.Errorf("apdu: %d data bytes need extended length", len(c.Data))
	}
	if c.Ne < 0 || c.Ne > 256 {
		return nil, fmt.Errorf("apdu: Ne %d out of the short range", c.Ne)
	}
	b := make([]byte, 0, 6+len(c.Data))
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Ne > 0 {
		b = append(b, byte(c.Ne)) // 256 wraps to 00 as the standard says
	}
	return b, nil
}

// ParseCommand decodes a short command APDU. Extended lengths (a 00 byte
// where Lc or Le would start, followed by more) are refused.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: command of %d bytes", ErrMalformed, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2
		c.Ne = int(body[0])
		if c.Ne == 0 {
			c.Ne = 256
		}
	default:
		lc := int(body[0])
		if lc == 0 {
			return Command{}, fmt.Errorf("%w: extended length is not supported", ErrMalformed)
		}
		switch len(body) {
		case 1 + lc: // case 3
		case 2 + lc: // case 4
			c.Ne = int(body[1+lc])
			if c.Ne == 0 {
				c.Ne = 256
			}
		default:
			return Command{}, fmt.Errorf("%w: Lc %d with %d bytes of body", ErrMalformed, lc, len(body))
		}
		c.Data = body[1 : 1+lc : 1+lc]
	}
	return c, nil
}

// Response is a response APDU.
type Response struct {
	Data []byte
	SW   uint16
}

// ParseResponse splits a response APDU into its data and status word.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: response of %d bytes", ErrMalformed, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: uint16(b[n])<<8 | uint16(b[n+1])}, nil
}

// Bytes encodes r.
func (r Response) Bytes() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, byte(r.SW>>8), byte(r.SW))
}

// StatusError is a status word other than 9000 returned for a command.
type StatusError struct {
	Op string // what the command was for
	SW uint16
}

// Error says what is wrong.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: card answered %04X (%s)", e.Op, e.SW, describe(e.SW))
}

func describe(sw uint16) string {
	switch {
	case sw == SWSecurityNotSatisfied:
		return "security status not satisfied"
	case sw == SWAuthFailed || sw&0xFFF0 == 0x63C0:
		return "authentication failed"
	case sw == SWFileNotFound:
		return "file not found"
	case sw == SWWrongParameters || sw == 0x6A86:
		return "wrong parameters"
	case sw == SWInsNotSupported:
		return "instruction not supported"
	case sw == SWClaNotSupported:
		return "class not supported"
	case sw == SWWrongLength:
		return "wrong length"
	case sw == SWSMMissing:
		return "secure messaging data objects missing"
	case sw == SWSMIncorrect:
		return "secure messaging data objects incorrect"
	case sw == SWConditions:
		return "conditions of use not satisfied"
	case sw == SWEndOfFile:
		return "end of file reached"
	}
	return "unexpected status"
}

// Send encodes c, transmits it and decodes the response. It follows the
// transport rules of ISO/IEC 7816-3/-4: 61XX asks for a GET RESPONSE, 6CXX
// for the same command again with Le=XX. It does not judge the status word.
func Send(ctx context.Context, t Transmitter, c Command) (Response, error) {
	raw, err := c.Bytes()
	if err != nil {
		return Response{}, err
	}
	b, err := t.Transmit(ctx, raw)
	if err != nil {
		return Response{}, err
	}
	r, err := ParseResponse(b)
	if err != nil {
		return Response{}, err
	}
	if r.SW&0xFF00 == 0x6C00 {
		c.Ne = int(r.SW & 0xFF)
		if c.Ne == 0 {
			c.Ne = 256
		}
		if raw, err = c.Bytes(); err != nil {
			return Response{}, err
		}
		if b, err = t.Transmit(ctx, raw); err != nil {
			return Response{}, err
		}
		if r, err = ParseResponse(b); err != nil {
			return Response{}, err
		}
	}
	var data []byte
	// Bound the chain so that a card answering 61XX forever cannot hold
	// the reader: 64 KB is more than any short-form exchange carries.
	for i := 0; r.SW&0xFF00 == 0x6100; i++ {
		if i > 256 {
			return Response{}, fmt.Errorf("%w: endless GET RESPONSE chain", ErrMalformed)
		}
		data = append(data, r.Data...)
		ne := int(r.SW & 0xFF)
		if ne == 0 {
			ne = 256
		}
		gr, _ := Command{CLA: c.CLA &^ 0x0C, INS: 0xC0, Ne: ne}.Bytes()
		if b, err = t.Transmit(ctx, gr); err != nil {
			return Response{}, err
		}
		if r, err = ParseResponse(b); err != nil {
			return Response{}, err
		}
	}
	if data != nil {
		r.Data = append(data, r.Data...)
	}
	return r, nil
}
