package sm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/internal/ber"
)

// Errors of secure messaging. A session that returned one of them must be
// abandoned: the chip has aborted its side (Doc 9303 Part 11 9.8.4).
var (
	ErrMAC       = errors.New("sm: MAC mismatch")
	ErrMalformed = errors.New("sm: malformed secure messaging data")
)

// Session is one secure messaging session: the session keys KS_enc and
// KS_mac and the send sequence counter SSC, with triple DES (after BAC) or
// AES (after PACE). A Session is not safe for concurrent use; a card
// session is a sequence of exchanges anyway.
type Session struct {
	enc cipher.Block
	bs  int // the cipher's block size: 8 for triple DES, 16 for AES
	// checksum computes the 8-byte MAC over SSC || msg, padding included.
	checksum func(msg []byte) []byte
	ssc      []byte
}

// NewSession returns a triple DES session with the 16-byte keys ksEnc and
// ksMac and the 8-byte initial send sequence counter.
func NewSession(ksEnc, ksMac, ssc []byte) (*Session, error) {
	enc, err := tdes(ksEnc)
	if err != nil {
		return nil, err
	}
	m, err := newMAC(ksMac)
	if err != nil {
		return nil, err
	}
	if len(ssc) != 8 {
		return nil, fmt.Errorf("sm: SSC of %d bytes, want 8", len(ssc))
	}
	return &Session{enc: enc, bs: 8, checksum: m.sum, ssc: append([]byte(nil), ssc...)}, nil
}

// NewAESSession returns an AES session (Doc 9303 Part 11 9.8.6.2 and
// 9.8.7) with the keys ksEnc and ksMac (16, 24 or 32 bytes each) and the
// 16-byte initial send sequence counter, zero after PACE.
func NewAESSession(ksEnc, ksMac, ssc []byte) (*Session, error) {
	enc, err := aes.NewCipher(ksEnc)
	if err != nil {
		return nil, fmt.Errorf("sm: KS_enc: %w", err)
	}
	m, err := newCMAC(ksMac)
	if err != nil {
		return nil, err
	}
	if len(ssc) != aes.BlockSize {
		return nil, fmt.Errorf("sm: SSC of %d bytes, want 16", len(ssc))
	}
	sum := func(msg []byte) []byte { return m.sum(padTo(msg, aes.BlockSize))[:8] }
	return &Session{enc: enc, bs: aes.BlockSize, checksum: sum, ssc: append([]byte(nil), ssc...)}, nil
}

// SSC returns the current send sequence counter.
func (s *Session) SSC() []byte { return append([]byte(nil), s.ssc...) }

// BlockSize is the cipher's block size: 8 for triple DES, 16 for AES. A
// reader sizes its READ BINARY requests by it, so that the padded answer
// fits a short response APDU.
func (s *Session) BlockSize() int { return s.bs }

// next increments the SSC, once per command and once per response, before
// the message's IV and MAC are computed from it.
func (s *Session) next() {
	for i := len(s.ssc) - 1; i >= 0; i-- {
		s.ssc[i]++
		if s.ssc[i] != 0 {
			return
		}
	}
}

// iv is zero for triple DES (9.8.6.1) and E(KS_enc, SSC) for AES (9.8.6.2).
func (s *Session) iv() []byte {
	iv := make([]byte, s.bs)
	if s.bs == aes.BlockSize {
		s.enc.Encrypt(iv, s.ssc)
	}
	return iv
}

func (s *Session) encrypt(b []byte) []byte {
	out := make([]byte, len(b))
	cipher.NewCBCEncrypter(s.enc, s.iv()).CryptBlocks(out, b)
	return out
}

func (s *Session) decrypt(b []byte) []byte {
	out := make([]byte, len(b))
	cipher.NewCBCDecrypter(s.enc, s.iv()).CryptBlocks(out, b)
	return out
}

// cc computes the cryptographic checksum of SSC || msg with the current
// SSC (Doc 9303 Part 11 9.8.6.1 and 9.8.6.2).
func (s *Session) cc(msg []byte) []byte {
	m := make([]byte, 0, len(s.ssc)+len(msg))
	return s.checksum(append(append(m, s.ssc...), msg...))
}

// encData builds DO'87' (even INS, with padding-content indicator 01) or
// DO'85' (odd INS) holding the encrypted, padded data.
func (s *Session) encData(ins byte, data []byte) []byte {
	e := s.encrypt(padTo(data, s.bs))
	if ins&1 == 1 {
		return ber.Encode(0x85, e)
	}
	return ber.Encode(0x87, []byte{0x01}, e)
}

// Protect turns the plain command c into a protected command APDU (Doc 9303
// Part 11 9.8.6.1): the class byte marks secure messaging, the data travel
// encrypted in DO'87', Le in DO'97', and DO'8E' carries the MAC over the
// padded header and those objects.
func (s *Session) Protect(c apdu.Command) ([]byte, error) {
	if c.CLA&0x0C != 0 {
		return nil, fmt.Errorf("sm: command class %02X is already secured", c.CLA)
	}
	header := []byte{c.CLA | 0x0C, c.INS, c.P1, c.P2}
	s.next()
	var body []byte
	if len(c.Data) > 0 {
		body = append(body, s.encData(c.INS, c.Data)...)
	}
	if c.Ne > 0 {
		body = append(body, 0x97, 0x01, byte(c.Ne))
	}
	cc := s.cc(append(padTo(header, s.bs), body...))
	body = append(body, 0x8E, 0x08)
	body = append(body, cc...)
	// Le=00: the response carries DO'99' and DO'8E' even for commands
	// that expect no data.
	return apdu.Command{CLA: header[0], INS: c.INS, P1: c.P1, P2: c.P2, Data: body, Ne: 256}.Bytes()
}

// objects splits secure messaging data objects, keeping each one's raw
// encoding for the MAC. DO'8E' must come last.
type objects struct {
	enc   []byte // DO'87' value without the indicator, or DO'85' value
	le    []byte // DO'97' value
	sw    []byte // DO'99' value
	cc    []byte // DO'8E' value
	macIn []byte // raw odd-tagged objects before DO'8E', in order
}

func split(b []byte, bs int) (*objects, error) {
	o := &objects{}
	seen := map[uint32]bool{}
	for len(b) > 0 {
		obj, rest, err := ber.Next(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		raw := b[:len(b)-len(rest)]
		b = rest
		if seen[obj.Tag] {
			return nil, fmt.Errorf("%w: DO'%X' twice", ErrMalformed, obj.Tag)
		}
		seen[obj.Tag] = true
		if o.cc != nil {
			return nil, fmt.Errorf("%w: DO'%X' after DO'8E'", ErrMalformed, obj.Tag)
		}
		switch obj.Tag {
		case 0x87:
			if len(obj.Value) < 1+bs || obj.Value[0] != 0x01 || (len(obj.Value)-1)%bs != 0 {
				return nil, fmt.Errorf("%w: DO'87' of %d bytes", ErrMalformed, len(obj.Value))
			}
			o.enc = obj.Value[1:]
		case 0x85:
			if len(obj.Value) < bs || len(obj.Value)%bs != 0 {
				return nil, fmt.Errorf("%w: DO'85' of %d bytes", ErrMalformed, len(obj.Value))
			}
			o.enc = obj.Value
		case 0x97:
			o.le = obj.Value
		case 0x99:
			if len(obj.Value) != 2 {
				return nil, fmt.Errorf("%w: DO'99' of %d bytes", ErrMalformed, len(obj.Value))
			}
			o.sw = obj.Value
		case 0x8E:
			if len(obj.Value) != 8 {
				return nil, fmt.Errorf("%w: DO'8E' of %d bytes", ErrMalformed, len(obj.Value))
			}
			o.cc = obj.Value
			continue
		default:
			return nil, fmt.Errorf("%w: unexpected DO'%X'", ErrMalformed, obj.Tag)
		}
		if seen[0x87] && seen[0x85] {
			return nil, fmt.Errorf("%w: both DO'85' and DO'87'", ErrMalformed)
		}
		o.macIn = append(o.macIn, raw...)
	}
	if o.cc == nil {
		return nil, fmt.Errorf("%w: no DO'8E'", ErrMalformed)
	}
	return o, nil
}

func (s *Session) open(enc []byte) ([]byte, error) {
	if enc == nil {
		return nil, nil
	}
	plain, err := unpadFrom(s.decrypt(enc), s.bs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return plain, nil
}

// Unprotect checks and decrypts a protected response APDU (Doc 9303 Part 11
// 9.8.6.2) and returns the plain response, whose status word is the one in
// DO'99'. A bare status word other than 9000 is returned as is: the chip
// sends one when it aborts secure messaging, and it carries no data to
// trust. A bare 9000 is refused, as anyone could have sent it.
func (s *Session) Unprotect(resp []byte) (apdu.Response, error) {
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		return apdu.Response{}, err
	}
	if len(r.Data) == 0 {
		if r.SW == apdu.SWOK {
			return apdu.Response{}, fmt.Errorf("%w: unprotected success status", ErrMalformed)
		}
		return r, nil
	}
	o, err := split(r.Data, s.bs)
	if err != nil {
		return apdu.Response{}, err
	}
	if o.sw == nil {
		return apdu.Response{}, fmt.Errorf("%w: no DO'99'", ErrMalformed)
	}
	if o.le != nil {
		return apdu.Response{}, fmt.Errorf("%w: DO'97' in a response", ErrMalformed)
	}
	s.next()
	if subtle.ConstantTimeCompare(s.cc(o.macIn), o.cc) != 1 {
		return apdu.Response{}, ErrMAC
	}
	data, err := s.open(o.enc)
	if err != nil {
		return apdu.Response{}, err
	}
	return apdu.Response{Data: data, SW: uint16(o.sw[0])<<8 | uint16(o.sw[1])}, nil
}

// UnprotectCommand is the chip's side of Protect: it checks the MAC of a
// protected command APDU and returns the plain command.
func (s *Session) UnprotectCommand(b []byte) (apdu.Command, error) {
	c, err := apdu.ParseCommand(b)
	if err != nil {
		return apdu.Command{}, err
	}
	if c.CLA&0x0C != 0x0C {
		return apdu.Command{}, fmt.Errorf("%w: class %02X is not secured", ErrMalformed, c.CLA)
	}
	o, err := split(c.Data, s.bs)
	if err != nil {
		return apdu.Command{}, err
	}
	if o.sw != nil {
		return apdu.Command{}, fmt.Errorf("%w: DO'99' in a command", ErrMalformed)
	}
	header := []byte{c.CLA, c.INS, c.P1, c.P2}
	s.next()
	if subtle.ConstantTimeCompare(s.cc(append(padTo(header, s.bs), o.macIn...)), o.cc) != 1 {
		return apdu.Command{}, ErrMAC
	}
	data, err := s.open(o.enc)
	if err != nil {
		return apdu.Command{}, err
	}
	plain := apdu.Command{CLA: c.CLA &^ 0x0C, INS: c.INS, P1: c.P1, P2: c.P2, Data: data}
	switch len(o.le) {
	case 0:
		if o.le != nil {
			plain.Ne = 256
		}
	case 1:
		plain.Ne = int(o.le[0])
		if plain.Ne == 0 {
			plain.Ne = 256
		}
	default:
		return apdu.Command{}, fmt.Errorf("%w: extended Le in DO'97'", ErrMalformed)
	}
	return plain, nil
}

// ProtectResponse is the chip's side of Unprotect: it encrypts the data of
// r into DO'87', puts its status word in DO'99' and appends DO'8E'.
func (s *Session) ProtectResponse(r apdu.Response) []byte {
	s.next()
	var body []byte
	if len(r.Data) > 0 {
		body = append(body, ber.Encode(0x87, []byte{0x01}, s.encrypt(padTo(r.Data, s.bs)))...)
	}
	body = append(body, 0x99, 0x02, byte(r.SW>>8), byte(r.SW))
	cc := s.cc(body)
	body = append(body, 0x8E, 0x08)
	body = append(body, cc...)
	return apdu.Response{Data: body, SW: r.SW}.Bytes()
}
