// Package dfuemu emulates a serial peripheral's side of the firmware update
// protocol of package dfu: a bootloader with two image slots (A and B), the
// verifying key baked in and a security counter, and a tiny application
// that answers PING. It serves a pseudo-terminal so that the host's code is
// tested at the wire, and paces its bytes to a UART's baud rate so that
// transfer times are those of a real line.
//
// The bootloader follows MCUboot's test-and-confirm scheme: an activated
// image boots once in test mode; CONFIRM makes it permanent and only then
// raises the security counter; a reset before CONFIRM (the watchdog fires
// after Config.TestWindow) boots the previous image again. An image built
// by Image with hang set never answers anything, as firmware that crashes at
// start would not.
//
// The flash is a directory: slot-a.bin, slot-b.bin and state.json, the
// bootloader's persistent record, replaced by rename so that it is always
// either the old record or the new one (on a microcontroller: two records
// with a sequence number, written alternately). Nothing else survives a
// power cycle: PowerCycle reloads the directory, and CrashAt loses power at
// a named point of the update, after the record of that point is written.
package dfuemu

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/internal/ptyserve"
)

// Config describes the emulated peripheral.
type Config struct {
	// Dir holds the emulated flash; it is created if missing.
	Dir string
	// Key is the public key baked into the bootloader.
	Key ed25519.PublicKey
	// Class is the device class; a manifest for another is refused.
	Class string
	// SlotSize is the size of each slot; 0 means 1 MiB.
	SlotSize uint32
	// MaxChunk is the largest DATA chunk accepted; 0 means 1024.
	MaxChunk uint16
	// Baud paces both directions to a UART at this rate, 10 bits a byte;
	// 0 sends and receives as fast as the pseudo-terminal goes.
	Baud int
	// BootDelay is how long a reset keeps the peripheral deaf; 0 means
	// 20 ms.
	BootDelay time.Duration
	// TestWindow is how long an image in test mode runs without CONFIRM
	// before the watchdog resets the peripheral (which then reverts); 0
	// means 5 s.
	TestWindow time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("dfuemu: Config.Dir is empty")
	}
	if len(c.Key) != ed25519.PublicKeySize {
		return c, errors.New("dfuemu: Config.Key is not an Ed25519 public key")
	}
	if !manifest.ValidClass(c.Class) {
		return c, fmt.Errorf("dfuemu: Config.Class %q is not a device class", c.Class)
	}
	if c.SlotSize == 0 {
		c.SlotSize = 1 << 20
	}
	if c.MaxChunk == 0 {
		c.MaxChunk = 1024
	}
	if c.MaxChunk > dfu.MaxChunk {
		return c, fmt.Errorf("dfuemu: Config.MaxChunk %d exceeds %d", c.MaxChunk, dfu.MaxChunk)
	}
	if c.BootDelay <= 0 {
		c.BootDelay = 20 * time.Millisecond
	}
	if c.TestWindow <= 0 {
		c.TestWindow = 5 * time.Second
	}
	return c, nil
}

// Crash points: where CrashAt loses power, each just after the bootloader's
// record of that step is written.
const (
	CrashBegin    = "begin"     // a new upload opened, slot erased
	CrashData     = "data"      // a chunk written, before its ack
	CrashActivate = "activate"  // image marked for test boot, before the reply
	CrashTestBoot = "boot-test" // test boot counted, before the application starts
	CrashConfirm  = "confirm"   // image made permanent and counter raised, before the reply
	CrashRevert   = "revert"    // test image abandoned, before the old one starts
)

// CrashPoints lists every crash point.
var CrashPoints = []string{CrashBegin, CrashData, CrashActivate, CrashTestBoot, CrashConfirm, CrashRevert}

// hangMagic starts an image whose application never answers.
var hangMagic = []byte("FWEMU-HANG\x00")

// Image returns a deterministic test image of size bytes derived from seed.
// With hang the emulated application never answers once booted.
func Image(size int, seed string, hang bool) []byte {
	img := make([]byte, 0, size+sha256.Size)
	if hang {
		img = append(img, hangMagic...)
	}
	h := sha256.Sum256([]byte(seed))
	for len(img) < size {
		img = append(img, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return img[:size]
}

// record is the bootloader's persistent record, state.json.
type record struct {
	Counter uint32    `json:"counter"`
	Active  int       `json:"active"`  // confirmed slot, -1 for none
	Pending int       `json:"pending"` // slot to test, -1 for none
	Tries   int       `json:"tries"`   // test boots left for Pending
	Slots   [2][]byte `json:"slots"`   // manifest of each slot's image, nil for none
	Upload  upload    `json:"upload"`
}

type upload struct {
	Slot     int    `json:"slot"`
	Manifest []byte `json:"manifest"` // nil: no upload open
	Received uint32 `json:"received"`
	Verified bool   `json:"verified"`
}

// Stats counts what the emulator saw since it was created.
type Stats struct {
	Frames   int // frames decoded
	NAKs     int // NAKs sent for frames it could not decode
	Data     int // DATA commands accepted at the wanted offset
	Repeated int // DATA commands for bytes already received
	Boots    int // boots, the first one included
	Reverts  int // test images abandoned
}

// errStop ends Serve without an error: the other side hung up.
var errStop = errors.New("dfuemu: stop")

// Emulator is one emulated peripheral. Its methods may be called while it
// serves.
type Emulator struct {
	cfg Config

	mu         sync.Mutex
	rec        record
	running    int  // slot running, -1 for none
	testing    bool // running slot is in test mode
	hung       bool // running application never answers
	dead       bool // power lost: deaf until PowerCycle
	bootAt     time.Time
	dogAt      time.Time
	crashAt    string
	plugged    bool
	corrupt    int      // flip the corrupt-th byte received from now; 0 for none
	lose       dfu.Type // lose the next reply to this command; 0 for none
	corruptOut int      // flip the corruptOut-th byte sent from now; 0 for none
	stats      Stats
	kick       chan struct{}
	// verify checks a manifest's signature; a test may memoise it, since
	// the fuzzer's instrumented Ed25519 takes most of a second.
	checkSig func(*manifest.Manifest) error
}

// New loads the emulated flash in cfg.Dir and boots.
func New(cfg Config) (*Emulator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("dfuemu: %w", err)
	}
	e := &Emulator{cfg: cfg, plugged: true, kick: make(chan struct{}, 1)}
	e.checkSig = func(m *manifest.Manifest) error { return m.Verify(cfg.Key) }
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.load(); err != nil {
		return nil, err
	}
	e.boot()
	return e, nil
}

// Provision writes a factory image into slot A, confirmed, with the
// security counter of its manifest, if the flash holds no record yet; it
// does nothing otherwise. The manifest must verify with the emulator's key.
func (e *Emulator) Provision(manifestBytes, image []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := os.Stat(e.path("state.json")); err == nil {
		return nil
	}
	m, err := manifest.Parse(manifestBytes)
	if err == nil {
		err = e.checkSig(m)
	}
	if err != nil {
		return fmt.Errorf("dfuemu: factory manifest: %w", err)
	}
	if err := m.Matches(image); err != nil {
		return fmt.Errorf("dfuemu: factory image: %w", err)
	}
	if err := os.WriteFile(e.slotPath(0), image, 0o644); err != nil {
		return fmt.Errorf("dfuemu: %w", err)
	}
	e.rec = record{Counter: m.Counter, Active: 0, Pending: -1, Upload: upload{Slot: -1}}
	e.rec.Slots[0] = manifestBytes
	if err := e.save(); err != nil {
		return err
	}
	e.boot()
	return nil
}

func (e *Emulator) path(name string) string { return filepath.Join(e.cfg.Dir, name) }

func (e *Emulator) slotPath(slot int) string { return e.path(fmt.Sprintf("slot-%c.bin", 'a'+slot)) }

func (e *Emulator) load() error {
	b, err := os.ReadFile(e.path("state.json"))
	if errors.Is(err, os.ErrNotExist) {
		e.rec = record{Active: -1, Pending: -1, Upload: upload{Slot: -1}}
		return nil
	}
	if err != nil {
		return fmt.Errorf("dfuemu: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("dfuemu: %s: %w", e.path("state.json"), err)
	}
	if r.Upload.Manifest != nil {
		if _, err := manifest.Parse(r.Upload.Manifest); err != nil || r.Upload.Slot < 0 || r.Upload.Slot > 1 {
			r.Upload = upload{Slot: -1} // not ours: forget the upload
		}
	}
	e.rec = r
	return nil
}

// save replaces the record by rename: a power loss leaves the old or the
// new one.
func (e *Emulator) save() error {
	b, err := json.Marshal(e.rec)
	if err != nil {
		return err
	}
	tmp := e.path(".state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("dfuemu: %w", err)
	}
	if err := os.Rename(tmp, e.path("state.json")); err != nil {
		return fmt.Errorf("dfuemu: %w", err)
	}
	return nil
}

// crash reports whether power is lost at point, and loses it.
func (e *Emulator) crash(point string) bool {
	if e.crashAt != point {
		return false
	}
	e.crashAt = ""
	e.dead = true
	e.bootAt, e.dogAt = time.Time{}, time.Time{}
	e.running, e.testing, e.hung = -1, false, false
	return true
}

// valid reports whether slot holds an image the bootloader may run: its
// manifest verifies with the baked-in key, is of this class, is not below
// the security counter, and the slot's bytes match it. It returns the
// manifest and image.
func (e *Emulator) valid(slot int) (*manifest.Manifest, []byte, bool) {
	if slot < 0 || slot > 1 || e.rec.Slots[slot] == nil {
		return nil, nil, false
	}
	m, err := manifest.Parse(e.rec.Slots[slot])
	if err != nil || e.checkSig(m) != nil || m.Class != e.cfg.Class || m.Counter < e.rec.Counter || m.Size > e.cfg.SlotSize {
		return nil, nil, false
	}
	img, err := e.readSlot(slot, m.Size)
	if err != nil || m.Matches(img) != nil {
		return nil, nil, false
	}
	return m, img, true
}

func (e *Emulator) readSlot(slot int, size uint32) ([]byte, error) {
	f, err := os.Open(e.slotPath(slot))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img := make([]byte, size)
	if _, err := io.ReadFull(f, img); err != nil {
		return nil, err
	}
	return img, nil
}

// boot is the bootloader's decision at reset, MCUboot's test swap on A/B
// slots: a pending image with a try left boots in test mode; one without
// (its test boot was never confirmed) is abandoned; otherwise the
// confirmed image boots, and with none valid the bootloader waits for an
// image.
func (e *Emulator) boot() {
	e.stats.Boots++
	e.running, e.testing, e.hung = -1, false, false
	e.bootAt, e.dogAt = time.Time{}, time.Time{}
	if p := e.rec.Pending; p >= 0 {
		if _, _, ok := e.valid(p); ok && e.rec.Tries > 0 {
			e.rec.Tries--
			if e.save() != nil || e.crash(CrashTestBoot) {
				return
			}
			e.start(p, true)
			return
		}
		e.rec.Pending, e.rec.Tries = -1, 0
		e.stats.Reverts++
		if e.save() != nil || e.crash(CrashRevert) {
			return
		}
	}
	if _, _, ok := e.valid(e.rec.Active); ok {
		e.start(e.rec.Active, false)
	}
}

func (e *Emulator) start(slot int, test bool) {
	_, img, _ := e.valid(slot)
	e.running, e.testing = slot, test
	e.hung = bytes.HasPrefix(img, hangMagic)
	if test {
		e.dogAt = time.Now().Add(e.cfg.TestWindow)
	}
}

// reset makes the peripheral deaf for BootDelay, then boots.
func (e *Emulator) reset() {
	e.running, e.testing, e.hung = -1, false, false
	e.dogAt = time.Time{}
	e.bootAt = time.Now().Add(e.cfg.BootDelay)
}

func (e *Emulator) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Unplug cuts the cable: until Plug, bytes in both directions are lost.
func (e *Emulator) Unplug() {
	e.mu.Lock()
	e.plugged = false
	e.mu.Unlock()
}

// Plug reconnects the cable.
func (e *Emulator) Plug() {
	e.mu.Lock()
	e.plugged = true
	e.mu.Unlock()
}

// CorruptIn flips a bit of the n-th byte received from now (n >= 1), as
// line noise would.
func (e *Emulator) CorruptIn(n int) {
	e.mu.Lock()
	e.corrupt = n
	e.mu.Unlock()
}

// CorruptOut flips a bit of the n-th byte sent from now (n >= 1).
func (e *Emulator) CorruptOut(n int) {
	e.mu.Lock()
	e.corruptOut = n
	e.mu.Unlock()
}

// LoseReply loses the next reply to cmd on its way to the host, after the
// peripheral acted on the command.
func (e *Emulator) LoseReply(cmd dfu.Type) {
	e.mu.Lock()
	e.lose = cmd
	e.mu.Unlock()
}

// CrashAt arms a power loss at point (see CrashPoints); the emulator then
// stays deaf until PowerCycle.
func (e *Emulator) CrashAt(point string) {
	e.mu.Lock()
	e.crashAt = point
	e.mu.Unlock()
}

// Dead reports whether power was lost at a crash point.
func (e *Emulator) Dead() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dead
}

// PowerCycle cuts the power and restores it: what is not in the emulated
// flash is forgotten, and the bootloader boots after BootDelay.
func (e *Emulator) PowerCycle() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.load(); err != nil {
		return err
	}
	e.dead = false
	e.reset()
	e.poke()
	return nil
}

// Stats returns the counts so far.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// State is what a test checks after an update.
type State struct {
	Running  int    // slot running, -1 for none
	Testing  bool   // running in test mode
	Hung     bool   // running application does not answer
	Counter  uint32 // stored security counter
	Active   int    // confirmed slot, -1 for none
	Pending  int    // slot to test at next boot, -1 for none
	Received uint32 // bytes of the open upload
	Version  manifest.Version
	Digest   [32]byte
}

// State returns the peripheral's state.
func (e *Emulator) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := State{Running: e.running, Testing: e.testing, Hung: e.hung, Counter: e.rec.Counter,
		Active: e.rec.Active, Pending: e.rec.Pending, Received: e.rec.Upload.Received}
	if m, _, ok := e.valid(e.running); ok {
		s.Version, s.Digest = m.Version, m.Digest
	}
	return s
}

// PTY is a pseudo-terminal served by an Emulator.
type PTY = ptyserve.PTY

// ServePTY serves the emulator on a new pseudo-terminal until ctx ends or
// the PTY is closed.
func (e *Emulator) ServePTY(ctx context.Context) (*PTY, error) {
	return ptyserve.Start(ctx, e.Serve)
}

// Serve answers the frames read from rw until ctx ends or rw fails; it
// returns nil when ctx ended or the other side hung up. If rw is an
// io.Closer, Serve closes it when ctx ends or Serve returns, which ends the
// read in progress, and waits for its reading goroutine; otherwise that
// goroutine ends at rw's next read.
func (e *Emulator) Serve(ctx context.Context, rw io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	if c, ok := rw.(io.Closer); ok {
		context.AfterFunc(ctx, func() { c.Close() })
		defer func() { cancel(); <-readerDone }()
	} else {
		defer cancel()
	}
	l := &line{rw: rw, baud: e.cfg.Baud}
	chunks := make(chan []byte, 4)
	readErr := make(chan error, 1)
	go func() { // owned by Serve: ends when rw is closed or fails
		defer close(readerDone)
		defer close(chunks)
		for {
			b, err := l.read(ctx)
			if len(b) > 0 {
				select {
				case chunks <- b:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var dec dfu.Decoder
	for {
		e.mu.Lock()
		next := e.bootAt
		if next.IsZero() || (!e.dogAt.IsZero() && e.dogAt.Before(next)) {
			next = e.dogAt
		}
		e.mu.Unlock()
		var timer <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timer = t.C
		}
		err := e.step(ctx, l, &dec, chunks, readErr, timer)
		if t != nil {
			t.Stop()
		}
		if errors.Is(err, errStop) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// step waits for one event: bytes, a timer, a kick or the end.
func (e *Emulator) step(ctx context.Context, l *line, dec *dfu.Decoder, chunks <-chan []byte, readErr <-chan error, timer <-chan time.Time) error {
	select {
	case <-ctx.Done():
		return nil
	case <-e.kick:
	case <-timer:
		e.mu.Lock()
		now := time.Now()
		switch {
		case e.dead:
		case !e.bootAt.IsZero() && !now.Before(e.bootAt):
			e.boot()
		case !e.dogAt.IsZero() && !now.Before(e.dogAt):
			e.reset() // the watchdog: a test image that was not confirmed
		}
		e.mu.Unlock()
	case b, ok := <-chunks:
		if !ok {
			err := <-readErr
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) {
				return errStop
			}
			return fmt.Errorf("dfuemu: reading: %w", err)
		}
		if err := e.receive(ctx, l, dec, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// receive handles bytes from the line: decodes frames and answers them.
func (e *Emulator) receive(ctx context.Context, l *line, dec *dfu.Decoder, b []byte) error {
	e.mu.Lock()
	if e.corrupt > 0 {
		if e.corrupt <= len(b) {
			b[e.corrupt-1] ^= 0x10
			e.corrupt = 0
		} else {
			e.corrupt -= len(b)
		}
	}
	if !e.plugged || e.dead || !e.bootAt.IsZero() || e.hung {
		// Lost on the cable, or nobody listening: a UART restarted at boot
		// has lost what it was in the middle of.
		dec.Reset()
		e.mu.Unlock()
		return nil
	}
	dec.Write(b)
	var out []byte
	for {
		f, err := dec.Next()
		if errors.Is(err, dfu.ErrIncomplete) {
			break
		}
		if err != nil {
			e.stats.NAKs++
			out = dfu.AppendFrame(out, dfu.NAK, 0, dfu.AppendOffset(nil, dfu.StatusBadFrame, e.rec.Upload.Received))
			continue
		}
		e.stats.Frames++
		reply, after := e.handle(f)
		if e.dead {
			break // power lost before the reply
		}
		if e.lose == f.Type {
			e.lose = 0 // this reply is lost on its way back
		} else {
			out = dfu.AppendFrame(out, f.Type|dfu.ReplyFlag, f.Seq, reply)
		}
		if after != nil {
			after()
			dec.Reset()
			break
		}
	}
	if e.corruptOut > 0 && len(out) > 0 {
		if e.corruptOut <= len(out) {
			out[e.corruptOut-1] ^= 0x10
			e.corruptOut = 0
		} else {
			e.corruptOut -= len(out)
		}
	}
	plugged := e.plugged
	e.mu.Unlock()
	if len(out) == 0 || !plugged {
		return nil
	}
	if err := l.write(ctx, out); err != nil {
		return fmt.Errorf("dfuemu: writing: %w", err)
	}
	return nil
}

// handle answers one command; after, if not nil, runs once the reply is
// queued (the reset that follows ACTIVATE).
func (e *Emulator) handle(f dfu.Frame) (reply []byte, after func()) {
	status := func(s dfu.Status) []byte { return []byte{byte(s)} }
	empty := func() bool { return len(f.Payload) == 0 }
	switch f.Type {
	case dfu.CmdInfo:
		if !empty() {
			return status(dfu.StatusMalformed), nil
		}
		return dfu.AppendInfo(nil, e.info()), nil
	case dfu.CmdPing:
		if !empty() {
			return status(dfu.StatusMalformed), nil
		}
		m, _, ok := e.valid(e.running)
		if !ok {
			return status(dfu.StatusNoImage), nil
		}
		st := dfu.ImageConfirmed
		if e.testing {
			st = dfu.ImageTest
		}
		return dfu.AppendPong(nil, dfu.Pong{Image: st, Version: m.Version, Digest: m.Digest}), nil
	case dfu.CmdBegin:
		return e.begin(f.Payload), nil
	case dfu.CmdData:
		return e.data(f.Payload), nil
	case dfu.CmdVerify:
		if !empty() {
			return status(dfu.StatusMalformed), nil
		}
		return status(e.verify()), nil
	case dfu.CmdActivate:
		if !empty() {
			return status(dfu.StatusMalformed), nil
		}
		return e.activate()
	case dfu.CmdConfirm:
		if !empty() {
			return status(dfu.StatusMalformed), nil
		}
		return e.confirm(), nil
	}
	return status(dfu.StatusUnknown), nil
}

func (e *Emulator) info() dfu.Info {
	i := dfu.Info{Protocol: dfu.ProtocolVersion, Slot: 0xFF, MaxChunk: e.cfg.MaxChunk, SlotSize: e.cfg.SlotSize,
		Counter: e.rec.Counter, Class: e.cfg.Class}
	if m, _, ok := e.valid(e.running); ok {
		i.Mode, i.Slot, i.Version, i.Digest = dfu.ModeApplication, byte(e.running), m.Version, m.Digest
		i.Image = dfu.ImageConfirmed
		if e.testing {
			i.Image = dfu.ImageTest
		}
	}
	if u := e.rec.Upload; u.Manifest != nil {
		m, _ := manifest.Parse(u.Manifest)
		i.Received, i.UploadSize = u.Received, m.Size
		switch {
		case u.Verified:
			i.Upload = dfu.UploadVerified
		case u.Received == m.Size:
			i.Upload = dfu.UploadReceived
		default:
			i.Upload = dfu.UploadReceiving
		}
	}
	return i
}

func (e *Emulator) begin(p []byte) []byte {
	fail := func(s dfu.Status) []byte { return []byte{byte(s)} }
	if e.testing {
		return fail(dfu.StatusState) // confirm or revert the image under test first
	}
	m, err := manifest.Parse(p)
	if err != nil {
		return fail(dfu.StatusBadManifest)
	}
	switch {
	case e.checkSig(m) != nil:
		return fail(dfu.StatusSignature)
	case m.Class != e.cfg.Class:
		return fail(dfu.StatusClass)
	case m.Counter < e.rec.Counter:
		return fail(dfu.StatusDowngrade)
	case m.Size > e.cfg.SlotSize:
		return fail(dfu.StatusTooLarge)
	}
	target := 0
	if e.running >= 0 {
		target = 1 - e.running
	}
	if u := e.rec.Upload; u.Slot == target && bytes.Equal(u.Manifest, p) {
		return dfu.AppendOffset(nil, dfu.StatusOK, u.Received) // resume
	}
	if bytes.Equal(e.rec.Slots[target], p) {
		if _, _, ok := e.valid(target); ok {
			// The image is in the slot already (a test boot that was
			// lost): it only needs activating again.
			e.rec.Upload = upload{Slot: target, Manifest: bytes.Clone(p), Received: m.Size, Verified: true}
			if e.save() != nil {
				return fail(dfu.StatusFlash)
			}
			return dfu.AppendOffset(nil, dfu.StatusOK, m.Size)
		}
	}
	if err := os.WriteFile(e.slotPath(target), nil, 0o644); err != nil {
		return fail(dfu.StatusFlash)
	}
	e.rec.Slots[target] = nil
	if e.rec.Pending == target {
		e.rec.Pending, e.rec.Tries = -1, 0
	}
	if e.rec.Active == target {
		e.rec.Active = -1 // the running image was booted from the other slot
	}
	e.rec.Upload = upload{Slot: target, Manifest: bytes.Clone(p)}
	if e.save() != nil {
		return fail(dfu.StatusFlash)
	}
	if e.crash(CrashBegin) {
		return nil
	}
	return dfu.AppendOffset(nil, dfu.StatusOK, 0)
}

func (e *Emulator) data(p []byte) []byte {
	u := &e.rec.Upload
	if u.Manifest == nil || u.Verified {
		return []byte{byte(dfu.StatusState)}
	}
	off, chunk, err := dfu.ParseData(p)
	if err != nil || len(chunk) > int(e.cfg.MaxChunk) {
		return []byte{byte(dfu.StatusMalformed)}
	}
	m, _ := manifest.Parse(u.Manifest)
	end := uint64(off) + uint64(len(chunk))
	switch {
	case end <= uint64(u.Received):
		e.stats.Repeated++ // a resend whose ack was lost: already written
		return dfu.AppendOffset(nil, dfu.StatusOK, u.Received)
	case off != u.Received || end > uint64(m.Size):
		return dfu.AppendOffset(nil, dfu.StatusOffset, u.Received)
	}
	f, err := os.OpenFile(e.slotPath(u.Slot), os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteAt(chunk, int64(off))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return dfu.AppendOffset(nil, dfu.StatusFlash, u.Received)
	}
	e.stats.Data++
	u.Received = uint32(end)
	if e.save() != nil {
		return dfu.AppendOffset(nil, dfu.StatusFlash, u.Received)
	}
	if e.crash(CrashData) {
		return nil
	}
	return dfu.AppendOffset(nil, dfu.StatusOK, u.Received)
}

// verify checks the received image against its manifest.
func (e *Emulator) verify() dfu.Status {
	u := &e.rec.Upload
	if u.Manifest == nil {
		return dfu.StatusState
	}
	m, _ := manifest.Parse(u.Manifest)
	if u.Received != m.Size {
		return dfu.StatusState
	}
	img, err := e.readSlot(u.Slot, m.Size)
	if err != nil || m.Matches(img) != nil {
		// Start over: the bytes in the slot are not the image.
		u.Received, u.Verified = 0, false
		e.save()
		return dfu.StatusDigest
	}
	u.Verified = true
	if e.save() != nil {
		return dfu.StatusFlash
	}
	return dfu.StatusOK
}

// activate marks the verified image for one test boot and resets.
func (e *Emulator) activate() ([]byte, func()) {
	u := e.rec.Upload
	if u.Manifest == nil || !u.Verified {
		return []byte{byte(dfu.StatusState)}, nil
	}
	e.rec.Slots[u.Slot] = u.Manifest
	// Verify before swap: the slot is checked once more, as the
	// bootloader will at boot, and for the counter stored now.
	if _, _, ok := e.valid(u.Slot); !ok {
		e.rec.Slots[u.Slot] = nil
		return []byte{byte(dfu.StatusDigest)}, nil
	}
	e.rec.Pending, e.rec.Tries = u.Slot, 1
	e.rec.Upload = upload{Slot: -1}
	if e.save() != nil {
		return []byte{byte(dfu.StatusFlash)}, nil
	}
	if e.crash(CrashActivate) {
		return nil, nil
	}
	return []byte{byte(dfu.StatusOK)}, e.reset
}

// confirm makes the image under test permanent and raises the counter.
func (e *Emulator) confirm() []byte {
	if !e.testing {
		return []byte{byte(dfu.StatusNotInTest)}
	}
	m, _, ok := e.valid(e.running)
	if !ok {
		return []byte{byte(dfu.StatusNotInTest)}
	}
	e.rec.Active, e.rec.Pending, e.rec.Tries = e.running, -1, 0
	e.rec.Counter = max(e.rec.Counter, m.Counter)
	if e.save() != nil {
		return []byte{byte(dfu.StatusFlash)}
	}
	if e.crash(CrashConfirm) {
		return nil
	}
	e.testing, e.dogAt = false, time.Time{}
	return dfu.AppendOffset(nil, dfu.StatusOK, e.rec.Counter)
}

// line paces a pseudo-terminal to a UART: a byte is handed over once its
// last bit would have arrived, against absolute deadlines so that timer
// slack does not add up.
type line struct {
	rw     io.ReadWriter
	baud   int
	rx, tx time.Time
	buf    [64]byte
	// streaming: the last read was paced and nothing was written since,
	// so bytes already waiting follow the previous ones on the line.
	// Read by the reading goroutine, cleared by the writing one.
	streaming atomic.Bool
}

func wireTime(n, baud int) time.Duration {
	return time.Duration(n) * 10 * time.Second / time.Duration(baud)
}

func (l *line) read(ctx context.Context) ([]byte, error) {
	called := time.Now()
	n, err := l.rw.Read(l.buf[:])
	b := bytes.Clone(l.buf[:n])
	if l.baud > 0 && n > 0 {
		// Bytes that were waiting while this goroutine slept for the
		// previous ones followed them on the line without a gap; counting
		// from the wake-up instead would add the timer's slack (most of a
		// millisecond on a busy machine) to every read. Bytes that Read
		// waited for, or that came after a reply, start when they came.
		start := time.Now()
		if l.streaming.Load() && start.Sub(called) < time.Millisecond {
			start = l.rx
		}
		l.rx = later(l.rx, start).Add(wireTime(n, l.baud))
		l.streaming.Store(true)
		if serr := sleepUntil(ctx, l.rx); serr != nil && err == nil {
			err = serr
		}
	}
	return b, err
}

func (l *line) write(ctx context.Context, b []byte) error {
	l.streaming.Store(false)
	if l.baud <= 0 {
		_, err := l.rw.Write(b)
		return err
	}
	const chunk = 16
	l.tx = later(l.tx, time.Now())
	for off := 0; off < len(b); off += chunk {
		end := min(off+chunk, len(b))
		l.tx = l.tx.Add(wireTime(end-off, l.baud))
		if err := sleepUntil(ctx, l.tx); err != nil {
			return err
		}
		if _, err := l.rw.Write(b[off:end]); err != nil {
			return err
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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

// Sink reads n bytes from rw through a line paced at baud, then writes one
// byte back: the raw line's time for n bytes, with no protocol, that a
// transfer's time is measured against.
func Sink(ctx context.Context, rw io.ReadWriter, baud int, n int64) error {
	l := &line{rw: rw, baud: baud}
	for n > 0 {
		b, err := l.read(ctx)
		n -= int64(len(b))
		if err != nil {
			return fmt.Errorf("dfuemu: sink: %w", err)
		}
	}
	return l.write(ctx, []byte{0x06})
}
