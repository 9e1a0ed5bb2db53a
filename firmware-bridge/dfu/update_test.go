package dfu_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/dfu/dfuemu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
)

const class = "sam-v2"

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// release is a signed image.
type release struct {
	manifest []byte
	image    []byte
	m        *manifest.Manifest
}

func build(t testing.TB, k ed25519.PrivateKey, class string, v manifest.Version, counter uint32, size int, hang bool) release {
	t.Helper()
	img := dfuemu.Image(size, v.String(), hang)
	m, b, err := manifest.New(k, class, v, counter, img)
	if err != nil {
		t.Fatal(err)
	}
	return release{manifest: b, image: img, m: m}
}

// rig is a peripheral emulated on a pseudo-terminal, factory image v1.0.0
// at counter 1 in slot A, and a client on the terminal opened as a serial
// port.
type rig struct {
	emu    *dfuemu.Emulator
	client *dfu.Client
	v1     release
	cfg    dfuemu.Config
}

var fastOpts = dfu.Options{Timeout: 150 * time.Millisecond, Retries: 2, BootWait: 5 * time.Second, PollInterval: 20 * time.Millisecond}

func newRig(t testing.TB, cfg dfuemu.Config, opts dfu.Options, factoryCounter uint32) *rig {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Key == nil {
		cfg.Key = key(1).Public().(ed25519.PublicKey)
	}
	if cfg.Class == "" {
		cfg.Class = class
	}
	if cfg.TestWindow == 0 {
		// Well above the host's PING timeout, on a loaded machine too.
		cfg.TestWindow = 2 * time.Second
	}
	emu, err := dfuemu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v1 := build(t, key(1), class, manifest.Version{Major: 1}, factoryCounter, 20000, false)
	if err := emu.Provision(v1.manifest, v1.image); err != nil {
		t.Fatal(err)
	}
	p, err := emu.ServePTY(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	port, err := serial.Open(p.Path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		p.Close()
		t.Fatalf("opening %s: %v", p.Path, err)
	}
	c := dfu.New(port, opts)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing client: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("emulator: %v", err)
		}
	})
	return &rig{emu: emu, client: c, v1: v1, cfg: cfg}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// running checks what the peripheral runs, asking it over the wire.
func (r *rig) running(t *testing.T, want release, state dfu.ImageState, counter uint32) {
	t.Helper()
	pong, err := r.client.Ping(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatalf("PING: %v", err)
	}
	if pong.Digest != want.m.Digest || pong.Version != want.m.Version || pong.Image != state {
		t.Fatalf("PING: %s %s, want %s %s", pong.Version, pong.Image, want.m.Version, state)
	}
	info, err := r.client.Info(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	if info.Counter != counter {
		t.Fatalf("security counter %d, want %d", info.Counter, counter)
	}
}

func TestUpdate(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	r.running(t, r.v1, dfu.ImageConfirmed, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 1, Minor: 1}, 2, 50000, false)
	var phases []dfu.Phase
	var last dfu.Progress
	res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, func(p dfu.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Done < last.Done && p.Phase == last.Phase {
			t.Errorf("progress went back: %d after %d", p.Done, last.Done)
		}
		last = p
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []dfu.Phase{dfu.PhaseConnect, dfu.PhaseTransfer, dfu.PhaseVerify, dfu.PhaseActivate, dfu.PhaseBoot, dfu.PhaseConfirm, dfu.PhaseDone}
	if !equal(phases, want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	if last.Done != 50000 || last.Total != 50000 {
		t.Fatalf("last progress %+v", last)
	}
	if res.Counter != 2 || res.From != 0 || res.Chunks != (50000+1023)/1024 || res.NAKs != 0 {
		t.Fatalf("result %+v", res)
	}
	r.running(t, v2, dfu.ImageConfirmed, 2)
	if s := r.emu.State(); s.Running != 1 || s.Active != 1 || s.Pending != -1 {
		t.Fatalf("emulator state %+v: want slot B active", s)
	}

	// The same again: nothing to send.
	res, err = r.client.Update(ctxFor(t, 10*time.Second), v2.manifest, v2.image, nil)
	if err != nil || !res.AlreadyInstalled || res.Chunks != 0 {
		t.Fatalf("second update: %+v, %v", res, err)
	}

	// And a third image goes to slot A, the one not running.
	v3 := build(t, key(1), class, manifest.Version{Major: 1, Minor: 2}, 2, 3000, false)
	if _, err := r.client.Update(ctxFor(t, 30*time.Second), v3.manifest, v3.image, nil); err != nil {
		t.Fatal(err)
	}
	r.running(t, v3, dfu.ImageConfirmed, 2)
	if s := r.emu.State(); s.Running != 0 {
		t.Fatalf("v3 runs from slot %d, want A", s.Running)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestResumeAfterCablePulled pulls the cable once half the image is
// acknowledged: the chunk in flight is lost, the update fails, and the next
// one resumes from the offset the peripheral reports, resending that one
// chunk only.
func TestResumeAfterCablePulled(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 64*1024, false)
	var acked int64
	_, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseTransfer {
			acked = p.Done
			if p.Done >= p.Total/2 {
				r.emu.Unplug()
			}
		}
	})
	if !errors.Is(err, dfu.ErrNoReply) {
		t.Fatalf("update with the cable pulled: %v, want ErrNoReply", err)
	}
	if acked != 32*1024 {
		t.Fatalf("acknowledged %d before the pull, want %d", acked, 32*1024)
	}
	info, err := r.client.Info(ctxFor(t, 5*time.Second))
	if err == nil {
		t.Fatalf("INFO answered with the cable pulled: %+v", info)
	}

	r.emu.Plug()
	info, err = r.client.Info(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if info.Upload != dfu.UploadReceiving || int64(info.Received) != acked || info.UploadSize != uint32(len(v2.image)) {
		t.Fatalf("INFO after the pull: %+v, want receiving at %d", info, acked)
	}
	r.running(t, r.v1, dfu.ImageConfirmed, 1) // the old firmware still runs
	before := r.emu.Stats()
	res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != acked {
		t.Fatalf("resumed from %d, want %d", res.From, acked)
	}
	// The chunk in flight at the pull is the only one sent twice.
	if want := (len(v2.image) - int(acked) + 1023) / 1024; res.Chunks != want {
		t.Fatalf("%d chunks after the resume, want %d", res.Chunks, want)
	}
	if got := r.emu.Stats(); got.Data-before.Data != res.Chunks || got.Repeated != before.Repeated {
		t.Fatalf("emulator stats %+v then %+v", before, got)
	}
	r.running(t, v2, dfu.ImageConfirmed, 2)
}

// TestResumeAfterCablePulledMidFrame pulls the cable at a moment unrelated
// to the frames, on a paced line: whatever was in flight, the resumed
// transfer starts at the last acknowledged chunk or the one after it.
func TestResumeAfterCablePulledMidFrame(t *testing.T) {
	const baud, size, chunk = 460800, 48 * 1024, 1024
	r := newRig(t, dfuemu.Config{Baud: baud}, dfu.Options{Baud: baud, Timeout: 150 * time.Millisecond, Retries: 2, BootWait: 5 * time.Second}, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, size, false)
	pull := time.AfterFunc(time.Duration(size)*10*time.Second/baud/2, r.emu.Unplug)
	defer pull.Stop()
	var acked int64
	_, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseTransfer {
			acked = p.Done
		}
	})
	if !errors.Is(err, dfu.ErrNoReply) {
		t.Fatalf("update with the cable pulled: %v", err)
	}
	r.emu.Plug()
	res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != acked && res.From != acked+chunk {
		t.Fatalf("resumed from %d; %d were acknowledged", res.From, acked)
	}
	if want := (size - int(res.From) + chunk - 1) / chunk; res.Chunks != want {
		t.Fatalf("%d chunks after the resume, want %d", res.Chunks, want)
	}
	r.running(t, v2, dfu.ImageConfirmed, 2)
}

// TestResumeAfterPowerLoss loses the peripheral's power right after it
// wrote a chunk, before its ack: after the power comes back the transfer
// resumes after that chunk.
func TestResumeAfterPowerLoss(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 10*1024, false)
	_, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseTransfer && p.Done == 4096 {
			r.emu.CrashAt(dfuemu.CrashData)
		}
	})
	if !errors.Is(err, dfu.ErrNoReply) || !r.emu.Dead() {
		t.Fatalf("update through a power loss: %v (dead %v)", err, r.emu.Dead())
	}
	if err := r.emu.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 5120 {
		t.Fatalf("resumed from %d, want 5120 (the chunk written before the power loss)", res.From)
	}
	r.running(t, v2, dfu.ImageConfirmed, 2)
}

func TestCorruptedChunk(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 8*1024, false)
	armed := false
	res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseTransfer && p.Done == 3072 && !armed {
			armed = true
			r.emu.CorruptIn(500) // in the middle of the next chunk
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.NAKs != 1 || r.emu.Stats().NAKs != 1 {
		t.Fatalf("NAKs: host %d, peripheral %d; want 1", res.NAKs, r.emu.Stats().NAKs)
	}
	if res.Chunks != 8+1 {
		t.Fatalf("%d chunks sent, want 9 (one resent)", res.Chunks)
	}
	r.running(t, v2, dfu.ImageConfirmed, 2)
}

// TestCorruptedAck damages the ack of a chunk on its way back: the host
// drops it, sends the chunk again, and the peripheral, which has it,
// acknowledges without writing it twice.
func TestCorruptedAck(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 8*1024, false)
	armed := false
	res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseTransfer && p.Done == 2048 && !armed {
			armed = true
			r.emu.CorruptOut(8) // in the next ack's offset
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := r.emu.Stats(); st.Repeated != 1 || st.Data != 8 || res.Chunks != 9 {
		t.Fatalf("emulator %+v, host sent %d chunks; want one repeated", st, res.Chunks)
	}
	r.running(t, v2, dfu.ImageConfirmed, 2)
}

func TestRefused(t *testing.T) {
	cases := []struct {
		name string
		rel  func(t *testing.T) release
		want dfu.Status
	}{
		{"wrong key", func(t *testing.T) release {
			return build(t, key(2), class, manifest.Version{Major: 2}, 9, 4096, false)
		}, dfu.StatusSignature},
		{"downgrade", func(t *testing.T) release {
			return build(t, key(1), class, manifest.Version{Major: 9}, 4, 4096, false)
		}, dfu.StatusDowngrade},
		{"other class", func(t *testing.T) release {
			return build(t, key(1), "printer-x", manifest.Version{Major: 2}, 9, 4096, false)
		}, dfu.StatusClass},
		{"too large", func(t *testing.T) release {
			return build(t, key(1), class, manifest.Version{Major: 2}, 9, 70000, false)
		}, dfu.StatusTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, dfuemu.Config{SlotSize: 65536}, fastOpts, 5)
			rel := c.rel(t)
			res, err := r.client.Update(ctxFor(t, 10*time.Second), rel.manifest, rel.image, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("update: %v, want %v", err, c.want)
			}
			if res.Chunks != 0 {
				t.Fatalf("%d chunks sent before the refusal", res.Chunks)
			}
			r.running(t, r.v1, dfu.ImageConfirmed, 5)
			if s := r.emu.State(); s.Received != 0 || s.Pending != -1 {
				t.Fatalf("emulator state after refusal %+v", s)
			}
		})
	}
}

// TestSameCounterLowerVersion: the counter orders images, not the version.
func TestSameCounterLowerVersion(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 5)
	v0 := build(t, key(1), class, manifest.Version{Minor: 9}, 5, 4096, false)
	if _, err := r.client.Update(ctxFor(t, 30*time.Second), v0.manifest, v0.image, nil); err != nil {
		t.Fatal(err)
	}
	r.running(t, v0, dfu.ImageConfirmed, 5)
}

// TestNeverAnswers installs firmware that hangs at start: the peripheral
// reverts by itself when its test window ends, and the counter stays.
func TestNeverAnswers(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	bad := build(t, key(1), class, manifest.Version{Major: 3}, 7, 8192, true)
	_, err := r.client.Update(ctxFor(t, 30*time.Second), bad.manifest, bad.image, nil)
	if !errors.Is(err, dfu.ErrReverted) {
		t.Fatalf("update to a hanging image: %v, want ErrReverted", err)
	}
	r.running(t, r.v1, dfu.ImageConfirmed, 1)
	if st := r.emu.Stats(); st.Reverts != 1 {
		t.Fatalf("emulator stats %+v, want 1 revert", st)
	}
	// A confirm now has nothing to confirm.
	if _, err := r.client.Confirm(ctxFor(t, 5*time.Second)); !errors.Is(err, dfu.StatusNotInTest) {
		t.Fatalf("CONFIRM after the revert: %v", err)
	}
	// And the downgrade protection did not move: an image at counter 1 is
	// still accepted.
	ok := build(t, key(1), class, manifest.Version{Major: 1, Patch: 1}, 1, 4096, false)
	if _, err := r.client.Update(ctxFor(t, 30*time.Second), ok.manifest, ok.image, nil); err != nil {
		t.Fatal(err)
	}
	r.running(t, ok, dfu.ImageConfirmed, 1)
}

// TestNoConfirm: a host that goes away after ACTIVATE leaves an image in
// test mode; without CONFIRM the peripheral reverts by itself.
func TestNoConfirm(t *testing.T) {
	r := newRig(t, dfuemu.Config{}, fastOpts, 1)
	v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 4096, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := r.client.Update(ctx, v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseBoot {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("update: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pong, err := r.client.Ping(ctxFor(t, 5*time.Second))
		if err == nil && pong.Digest == r.v1.m.Digest {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no revert: %+v %v", pong, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.running(t, r.v1, dfu.ImageConfirmed, 1)
}

// TestPowerLossDuringSwap loses power at each step of the swap; after the
// power comes back a valid image runs, and running the update again ends
// with the new image confirmed.
func TestPowerLossDuringSwap(t *testing.T) {
	for _, point := range []string{dfuemu.CrashActivate, dfuemu.CrashTestBoot, dfuemu.CrashConfirm} {
		t.Run(point, func(t *testing.T) {
			r := newRig(t, dfuemu.Config{}, fastOpts, 1)
			v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 6000, false)
			r.emu.CrashAt(point)
			_, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, nil)
			if err == nil || !r.emu.Dead() {
				t.Fatalf("update through a power loss at %s: %v (dead %v)", point, err, r.emu.Dead())
			}
			if err := r.emu.PowerCycle(); err != nil {
				t.Fatal(err)
			}
			// A valid image answers, whichever it is.
			var pong dfu.Pong
			deadline := time.Now().Add(5 * time.Second)
			for {
				pong, err = r.client.Ping(ctxFor(t, 5*time.Second))
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil || (pong.Digest != r.v1.m.Digest && pong.Digest != v2.m.Digest) {
				t.Fatalf("after the power loss: %+v, %v", pong, err)
			}
			info, err := r.client.Info(ctxFor(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			// The counter is raised only with the confirm.
			if wantCounter := map[bool]uint32{true: 2, false: 1}[point == dfuemu.CrashConfirm]; info.Counter != wantCounter {
				t.Fatalf("counter %d after a power loss at %s", info.Counter, point)
			}
			res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Chunks != 0 {
				t.Fatalf("%d chunks sent again: the image was in its slot already", res.Chunks)
			}
			r.running(t, v2, dfu.ImageConfirmed, 2)
		})
	}
	t.Run(dfuemu.CrashRevert, func(t *testing.T) {
		r := newRig(t, dfuemu.Config{}, fastOpts, 1)
		bad := build(t, key(1), class, manifest.Version{Major: 3}, 7, 4096, true)
		r.emu.CrashAt(dfuemu.CrashRevert)
		if _, err := r.client.Update(ctxFor(t, 30*time.Second), bad.manifest, bad.image, nil); err == nil {
			t.Fatal("update to a hanging image succeeded")
		}
		if !r.emu.Dead() {
			t.Fatal("no power loss at the revert")
		}
		if err := r.emu.PowerCycle(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		r.running(t, r.v1, dfu.ImageConfirmed, 1)
	})
}

// TestLostReplies loses the reply to each command once, after the
// peripheral acted on it: the resend, or a look at INFO, carries on.
func TestLostReplies(t *testing.T) {
	for _, cmd := range []dfu.Type{dfu.CmdInfo, dfu.CmdBegin, dfu.CmdData, dfu.CmdVerify, dfu.CmdActivate, dfu.CmdConfirm} {
		t.Run(cmd.String(), func(t *testing.T) {
			r := newRig(t, dfuemu.Config{}, fastOpts, 1)
			v2 := build(t, key(1), class, manifest.Version{Major: 2}, 2, 5000, false)
			r.emu.LoseReply(cmd)
			res, err := r.client.Update(ctxFor(t, 30*time.Second), v2.manifest, v2.image, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Counter != 2 {
				t.Fatalf("result %+v", res)
			}
			r.running(t, v2, dfu.ImageConfirmed, 2)
		})
	}
}
