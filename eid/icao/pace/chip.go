package pace

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"crypto/subtle"
	"io"
	"math/big"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/sm"
	"github.com/guichet/guichet/internal/ber"
)

// Status words the chip side answers with (ISO/IEC 7816-4 5.6).
const (
	swWrongData    = 0x6A80 // malformed data, a point off the curve
	swRefNotFound  = 0x6A88 // unknown protocol, parameters or password
	swChainLast    = 0x6883 // the last command of the chain was expected
	swChainPending = 0x6884 // the chain ended before its last step
)

// Chip is the chip's side of PACE for one document, as the virtual
// ePassport runs it. It is not safe for concurrent use.
type Chip struct {
	infos     []Info
	passwords map[byte][]byte
	rnd       io.Reader

	// The run in progress: step is the number of GENERAL AUTHENTICATE
	// commands answered since MSE:Set AT, -1 when no run is set up.
	step      int
	info      Info
	st        suite
	pw        []byte // f(π) of the password the reader named
	s         []byte
	skMap     *big.Int
	g         ecc.Point
	sk        *big.Int
	pk, pkPCD []byte // the chip's and the reader's ephemeral keys
	ksEnc     []byte
	ksMac     []byte
}

// NewChip returns the chip side offering infos, which knows passwords;
// rnd supplies the nonce s, then the mapping and the key agreement private
// keys (crypto/rand.Reader when nil).
func NewChip(infos []Info, passwords []Password, rnd io.Reader) *Chip {
	if rnd == nil {
		rnd = rand.Reader
	}
	c := &Chip{infos: infos, passwords: map[byte][]byte{}, rnd: rnd, step: -1}
	for _, p := range passwords {
		c.passwords[p.Ref] = p.Key
	}
	return c
}

// Reset abandons the run in progress; the reader must send MSE:Set AT
// again.
func (c *Chip) Reset() {
	*c = Chip{infos: c.infos, passwords: c.passwords, rnd: c.rnd, step: -1}
}

func fail(c *Chip, sw uint16) (apdu.Response, *sm.Session) {
	c.Reset()
	return apdu.Response{SW: sw}, nil
}

// Respond answers MSE:Set AT (INS 22) and GENERAL AUTHENTICATE (INS 86),
// sent in plain. After the last step it returns the secure messaging
// session that the chip must use from the next command on. Any error ends
// the run.
func (c *Chip) Respond(cmd apdu.Command) (apdu.Response, *sm.Session) {
	switch cmd.INS {
	case 0x22:
		return c.setAT(cmd)
	case 0x86:
		return c.generalAuthenticate(cmd)
	}
	return apdu.Response{SW: apdu.SWInsNotSupported}, nil
}

func (c *Chip) setAT(cmd apdu.Command) (apdu.Response, *sm.Session) {
	c.Reset()
	if cmd.CLA != 0x00 || cmd.P1 != 0xC1 || cmd.P2 != 0xA4 {
		return apdu.Response{SW: apdu.SWWrongParameters}, nil
	}
	objs, err := ber.DecodeAll(cmd.Data)
	if err != nil {
		return fail(c, swWrongData)
	}
	var oid, ref, param []byte
	for _, o := range objs {
		switch o.Tag {
		case 0x80:
			oid = o.Value
		case 0x83:
			ref = o.Value
		case 0x84:
			param = o.Value
		default:
			// Other references (the CHAT of 7F4C, ephemeral keys for
			// chip authentication) belong to EAC, which this chip lacks.
			return fail(c, swWrongData)
		}
	}
	if oid == nil || len(ref) != 1 || len(param) > 2 {
		return fail(c, swWrongData)
	}
	pid := -1
	if param != nil {
		pid = int(new(big.Int).SetBytes(param).Int64())
	}
	for _, i := range c.infos {
		if !bytes.Equal(oidContent(i.Protocol), oid) || (pid >= 0 && pid != i.ParameterID) {
			continue
		}
		st, err := i.suite()
		if err != nil {
			continue
		}
		pw, ok := c.passwords[ref[0]]
		if !ok {
			return fail(c, swRefNotFound)
		}
		c.info, c.st, c.pw, c.step = i, st, pw, 0
		return apdu.Response{SW: apdu.SWOK}, nil
	}
	return fail(c, swRefNotFound)
}

func (c *Chip) generalAuthenticate(cmd apdu.Command) (apdu.Response, *sm.Session) {
	if c.step < 0 {
		return apdu.Response{SW: apdu.SWConditions}, nil
	}
	last := c.step == 3
	switch {
	case cmd.CLA == 0x10 && last:
		return fail(c, swChainLast)
	case cmd.CLA == 0x00 && !last:
		return fail(c, swChainPending)
	case cmd.CLA != 0x10 && cmd.CLA != 0x00:
		return fail(c, apdu.SWClaNotSupported)
	case cmd.P1 != 0 || cmd.P2 != 0:
		return fail(c, apdu.SWWrongParameters)
	}
	cv := c.st.c
	step := c.step
	c.step++
	switch step {
	case 0:
		if v, err := ber.Expect(cmd.Data, 0x7C); err != nil || len(v) != 0 {
			return fail(c, swWrongData)
		}
		c.s = make([]byte, aes.BlockSize)
		if _, err := io.ReadFull(c.rnd, c.s); err != nil {
			return fail(c, 0x6F00)
		}
		kpi, err := c.st.passwordKey(Password{Key: c.pw})
		if err != nil {
			return fail(c, 0x6F00)
		}
		z, err := nonce(kpi, c.s, true)
		if err != nil {
			return fail(c, 0x6F00)
		}
		return apdu.Response{Data: dynamicAuth(0x80, z), SW: apdu.SWOK}, nil
	case 1:
		b, err := parseDynamicAuth(cmd.Data, 0x81)
		if err != nil {
			return fail(c, swWrongData)
		}
		pkMapPCD, err := cv.Decode(b)
		if err != nil {
			return fail(c, swWrongData)
		}
		if c.skMap, err = cv.PrivateKey(c.rnd); err != nil {
			return fail(c, 0x6F00)
		}
		if c.g, err = mapGenerator(cv, c.s, cv.Mul(c.skMap, pkMapPCD)); err != nil {
			return fail(c, swWrongData)
		}
		return apdu.Response{Data: dynamicAuth(0x82, cv.Encode(cv.Mul(c.skMap, cv.Generator()))), SW: apdu.SWOK}, nil
	case 2:
		b, err := parseDynamicAuth(cmd.Data, 0x83)
		if err != nil {
			return fail(c, swWrongData)
		}
		pkPCD, err := cv.Decode(b)
		if err != nil {
			return fail(c, swWrongData)
		}
		if c.sk, err = cv.PrivateKey(c.rnd); err != nil {
			return fail(c, 0x6F00)
		}
		c.pk, c.pkPCD = cv.Encode(cv.Mul(c.sk, c.g)), cv.Encode(pkPCD)
		if bytes.Equal(c.pk, c.pkPCD) {
			return fail(c, swWrongData)
		}
		k, err := sharedSecret(cv, c.sk, pkPCD)
		if err != nil {
			return fail(c, swWrongData)
		}
		if c.ksEnc, c.ksMac, err = c.st.sessionKeys(k); err != nil {
			return fail(c, 0x6F00)
		}
		return apdu.Response{Data: dynamicAuth(0x84, c.pk), SW: apdu.SWOK}, nil
	}
	// Step 4: the reader's token proves it knew the password.
	tPCD, err := parseDynamicAuth(cmd.Data, 0x85)
	if err != nil {
		return fail(c, swWrongData)
	}
	want, err := token(c.ksMac, c.info.Protocol, c.pk)
	if err != nil || subtle.ConstantTimeCompare(tPCD, want) != 1 {
		return fail(c, apdu.SWAuthFailed)
	}
	tIC, err := token(c.ksMac, c.info.Protocol, c.pkPCD)
	if err != nil {
		return fail(c, 0x6F00)
	}
	sess, err := sm.NewAESSession(c.ksEnc, c.ksMac, make([]byte, aes.BlockSize))
	c.Reset()
	if err != nil {
		return apdu.Response{SW: 0x6F00}, nil
	}
	return apdu.Response{Data: dynamicAuth(0x86, tIC), SW: apdu.SWOK}, sess
}
