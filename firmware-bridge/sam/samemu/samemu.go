// Package samemu emulates the "SAM" module of a Chinese resident-ID card
// reader: it speaks the module's side of the protocol of package
// firmware-bridge/sam on any io.ReadWriter, typically the master side of a
// pseudo-terminal whose other side a driver opens as a serial port.
//
// The emulator holds one card, or none, and follows the module's states:
// find card succeeds only with a card present, select only after a find,
// read only after a select; the card stays selected until it leaves the
// field or the module is reset, so a read can be repeated. It can pace its bytes to a UART's baud rate and
// inject the faults a real line shows: corrupt checksums, short or truncated
// replies, replies that trickle byte by byte, garbage before the preamble,
// and silence.
package samemu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/guichet/guichet/firmware-bridge/frame"
	"github.com/guichet/guichet/firmware-bridge/sam"
)

// Fault is a misbehaviour the emulator can inject into its replies.
type Fault int

// The faults. Each applies to one reply, after the command took effect in
// the module, as when the reply is damaged on the line.
const (
	FaultNone            Fault = iota
	FaultCorruptChecksum       // the checksum byte is wrong
	FaultShortReply            // a well-formed frame whose data is cut in half
	FaultTruncated             // the frame stops half way and nothing follows
	FaultSlow                  // the frame is sent a byte at a time (SetSlowByteDelay)
	FaultGarbage               // noise, including preamble fragments, before the frame
	FaultSilent                // no reply at all
)

var faultNames = []string{"none", "corrupt", "short", "truncated", "slow", "garbage", "silent"}

// String returns the fault's name, as ParseFault reads it.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// ParseFault returns the fault named s: none, corrupt, short, truncated,
// slow, garbage or silent.
func ParseFault(s string) (Fault, error) {
	for i, n := range faultNames {
		if n == s {
			return Fault(i), nil
		}
	}
	return FaultNone, fmt.Errorf("samemu: unknown fault %q (known: %v)", s, faultNames)
}

type rule struct {
	fault Fault
	cmd   sam.Command // 0 for any
	left  int         // replies still to damage; <= 0 for all
}

// Emulator is one emulated module. Its settings, card and faults may be
// changed at any time, also while it serves.
type Emulator struct {
	mu              sync.Mutex
	baud            int
	slowByteDelay   time.Duration
	readDelay       time.Duration
	text, photo     []byte // text nil: no card
	found, selected bool
	rules           []rule
	counts          map[sam.Command]int
}

// New returns an emulator with no card in its field.
func New() *Emulator {
	return &Emulator{counts: map[sam.Command]int{}}
}

// SetBaud paces the emulator to a UART at baud, 10 bits a byte: a request
// is answered no sooner than its bytes would have taken to arrive, and the
// reply is sent at that rate. 0, the default, sends at once.
func (e *Emulator) SetBaud(baud int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.baud = baud
}

// SetSlowByteDelay sets the pause between bytes under FaultSlow; the
// default is 2 ms.
func (e *Emulator) SetSlowByteDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.slowByteDelay = d
}

// SetReadDelay sets how long the module takes to read the card over the air
// before it answers read base information; the default, 0, answers at once.
func (e *Emulator) SetReadDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.readDelay = d
}

// settings returns the pacing settings.
func (e *Emulator) settings() (baud int, slow time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	slow = e.slowByteDelay
	if slow <= 0 {
		slow = 2 * time.Millisecond
	}
	return e.baud, slow
}

// SetCard places a card with text t and the WLT photo in the field; a nil
// photo is replaced by 1024 bytes of a fixed pattern. The text is not
// checked, so a card with a bad ID number can be emulated.
func (e *Emulator) SetCard(t sam.Text, photo []byte) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	if photo == nil {
		photo = SamplePhoto()
	}
	e.SetRawCard(b, photo)
	return nil
}

// SetRawCard places a card whose text block and photo are given as bytes,
// of any size, for tests of hostile content.
func (e *Emulator) SetRawCard(text, photo []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.text, e.photo = append([]byte{}, text...), append([]byte{}, photo...)
	e.found, e.selected = false, false
}

// RemoveCard takes the card out of the field.
func (e *Emulator) RemoveCard() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.text, e.photo = nil, nil
	e.found, e.selected = false, false
}

// Inject damages the next times replies to cmd (0 for any command) with f;
// times <= 0 damages them all until ClearFaults.
func (e *Emulator) Inject(f Fault, cmd sam.Command, times int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = append(e.rules, rule{fault: f, cmd: cmd, left: times})
}

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = nil
}

// Count reports how many well-formed requests carrying cmd the emulator has
// received.
func (e *Emulator) Count(cmd sam.Command) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[cmd]
}

// Serve answers the requests read from rw until ctx ends or rw fails. When
// ctx ends it closes rw if rw is an io.Closer, to end the read in
// progress. It returns nil when ctx ended or the other side hung up (end of
// file, or EIO on a pseudo-terminal whose other side was closed).
func (e *Emulator) Serve(ctx context.Context, rw io.ReadWriter) error {
	if c, ok := rw.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}
	var dec frame.Decoder
	buf := make([]byte, 512)
	var first time.Time // when the first byte of the pending request came
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			if dec.Buffered() == 0 {
				first = time.Now()
			}
			dec.Write(buf[:n])
			for {
				before := dec.Buffered()
				body, ferr := dec.Next()
				if errors.Is(ferr, frame.ErrIncomplete) {
					break
				}
				var reply []byte
				var fault Fault
				switch {
				case errors.Is(ferr, frame.ErrChecksum):
					reply = status(sam.StatusChecksum)
				case ferr != nil:
					reply = status(sam.StatusLength)
				default:
					reply, fault = e.handle(ctx, body)
				}
				if baud, _ := e.settings(); baud > 0 {
					// Answer no sooner than the request would have arrived.
					used := before - dec.Buffered()
					if err := sleepUntil(ctx, first.Add(wireTime(used, baud))); err != nil {
						return nil
					}
				}
				if err := e.send(ctx, rw, reply, fault); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("samemu: writing reply: %w", err)
				}
				first = time.Now()
			}
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) {
				return nil
			}
			return fmt.Errorf("samemu: reading: %w", err)
		}
	}
}

// status is a reply body carrying only a status word.
func status(s sam.Status) []byte { return []byte{0, 0, byte(s)} }

// handle runs one request and returns the reply body and the fault to
// inject.
func (e *Emulator) handle(ctx context.Context, body []byte) ([]byte, Fault) {
	if len(body) < 2 {
		return status(sam.StatusLength), FaultNone
	}
	cmd := sam.Command(body[0])<<8 | sam.Command(body[1])
	e.mu.Lock()
	e.counts[cmd]++
	fault := e.takeFault(cmd)
	var reply []byte
	var readDelay time.Duration
	switch cmd {
	case sam.CmdReset:
		e.found, e.selected = false, false
		reply = status(sam.StatusOK)
	case sam.CmdStatus:
		reply = status(sam.StatusOK)
	case sam.CmdSAMID:
		reply = append(status(sam.StatusOK), []byte("guichet-samemu-1")...)
	case sam.CmdFindCard:
		if e.text == nil {
			e.found, e.selected = false, false
			reply = status(sam.StatusNoCard)
			break
		}
		e.found = true
		reply = append(status(sam.StatusFound), 0, 0, 0, 0)
	case sam.CmdSelectCard:
		if !e.found {
			reply = status(sam.StatusSelectFailed)
			break
		}
		e.selected = true
		reply = append(status(sam.StatusOK), make([]byte, 8)...)
	case sam.CmdReadBase:
		if !e.selected || e.text == nil {
			reply = status(sam.StatusReadFailed)
			break
		}
		reply = status(sam.StatusOK)
		reply = binary.BigEndian.AppendUint16(reply, uint16(len(e.text)))
		reply = binary.BigEndian.AppendUint16(reply, uint16(len(e.photo)))
		reply = append(reply, e.text...)
		reply = append(reply, e.photo...)
		readDelay = e.readDelay
	default:
		reply = status(sam.StatusCommand)
	}
	e.mu.Unlock()
	if readDelay > 0 {
		_ = sleepUntil(ctx, time.Now().Add(readDelay))
	}
	return reply, fault
}

// takeFault returns the fault for a reply to cmd and uses it up; e.mu is
// held.
func (e *Emulator) takeFault(cmd sam.Command) Fault {
	for i := range e.rules {
		r := &e.rules[i]
		if r.cmd != 0 && r.cmd != cmd {
			continue
		}
		f := r.fault
		if r.left > 0 {
			r.left--
			if r.left == 0 {
				e.rules = append(e.rules[:i], e.rules[i+1:]...)
			}
		}
		return f
	}
	return FaultNone
}

// send writes the reply framed, damaged as fault says, at the paced rate.
func (e *Emulator) send(ctx context.Context, w io.Writer, body []byte, fault Fault) error {
	switch fault {
	case FaultSilent:
		return nil
	case FaultShortReply:
		if len(body) > 3 {
			body = body[:3+(len(body)-3)/2]
		} else {
			body = body[:2]
		}
	}
	f := frame.Encode(body)
	switch fault {
	case FaultCorruptChecksum:
		f[len(f)-1] ^= 0x5A
	case FaultTruncated:
		f = f[:len(f)/2]
	case FaultGarbage:
		noise := []byte{0x00, 0xFF, 0xAA, 0xAA, 0x96, 0x13, 0xAA, 0xAA, 0xAA, 0x96}
		for range 20 {
			noise = append(noise, byte(rand.UintN(256)))
		}
		f = append(noise, f...)
	case FaultSlow:
		_, delay := e.settings()
		for i := range f {
			if _, err := w.Write(f[i : i+1]); err != nil {
				return err
			}
			if err := sleepUntil(ctx, time.Now().Add(delay)); err != nil {
				return err
			}
		}
		return nil
	}
	return e.write(ctx, w, f)
}

// write sends b at once, or paced to the baud rate in small chunks against absolute
// deadlines so that timer slack does not add up.
func (e *Emulator) write(ctx context.Context, w io.Writer, b []byte) error {
	baud, _ := e.settings()
	if baud <= 0 {
		_, err := w.Write(b)
		return err
	}
	const chunk = 16
	start := time.Now()
	for off := 0; off < len(b); off += chunk {
		// A byte reaches the far end once its last bit has been sent.
		end := min(off+chunk, len(b))
		if err := sleepUntil(ctx, start.Add(wireTime(end, baud))); err != nil {
			return err
		}
		if _, err := w.Write(b[off:end]); err != nil {
			return err
		}
	}
	return nil
}

// wireTime is the time n bytes take on a UART at baud, 8N1: 10 bits a byte.
func wireTime(n, baud int) time.Duration {
	return time.Duration(n) * 10 * time.Second / time.Duration(baud)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SampleText is the text of a specimen card: the worked example number of
// GB 11643-1999 (11010519491231002X) with a textbook name and an address
// that says it is an example. It is no one's data.
func SampleText() sam.Text {
	return sam.Text{
		Name:      "韩梅梅",
		Sex:       "2",
		Nation:    "01",
		Birth:     "19491231",
		Address:   "北京市朝阳区示例路1号",
		IDNumber:  "11010519491231002X",
		Issuer:    "北京市公安局朝阳分局",
		ValidFrom: "20200101",
		ValidTo:   "20400101",
	}
}

// SamplePhoto is 1024 bytes of a fixed pattern standing for a WLT photo.
func SamplePhoto() []byte {
	p := make([]byte, sam.PhotoLen)
	rng := rand.New(rand.NewPCG(11643, 1999))
	for i := range p {
		p[i] = byte(rng.UintN(256))
	}
	return p
}
