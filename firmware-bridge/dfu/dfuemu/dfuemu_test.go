package dfuemu

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
)

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))

var (
	factoryImage       = Image(1000, "factory", false)
	factory, factoryMB = func() (*manifest.Manifest, []byte) {
		m, b, err := manifest.New(testKey, "sam-v2", manifest.Version{Major: 1}, 3, factoryImage)
		if err != nil {
			panic(err)
		}
		return m, b
	}()
)

// newEmu returns an emulator with a factory image (counter 3) in slot A.
// With memo its signature checks are memoised across emulators.
func newEmu(t testing.TB, memo map[[manifest.Size]byte]error) (*Emulator, *manifest.Manifest) {
	t.Helper()
	e, err := New(Config{Dir: t.TempDir(), Key: testKey.Public().(ed25519.PublicKey), Class: "sam-v2", SlotSize: 8192, MaxChunk: 256, TestWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if memo != nil {
		verify := e.checkSig
		e.checkSig = func(m *manifest.Manifest) error {
			k := [manifest.Size]byte(m.Encode())
			err, ok := memo[k]
			if !ok {
				err = verify(m)
				memo[k] = err
			}
			return err
		}
	}
	if err := e.Provision(factoryMB, factoryImage); err != nil {
		t.Fatal(err)
	}
	return e, factory
}

// exchange hands one frame to the emulator as the serving loop does and
// returns the reply payload.
func (e *Emulator) exchange(f dfu.Frame) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, after := e.handle(f)
	if after != nil {
		after()
		e.boot()
	}
	return r
}

func TestHostileCommands(t *testing.T) {
	e, factory := newEmu(t, nil)
	img := Image(700, "next", false)
	_, good, err := manifest.New(testKey, "sam-v2", manifest.Version{Major: 2}, 4, img)
	if err != nil {
		t.Fatal(err)
	}
	data := func(off uint32, b []byte) dfu.Frame {
		return dfu.Frame{Type: dfu.CmdData, Payload: dfu.AppendData(nil, off, b)}
	}
	steps := []struct {
		name string
		f    dfu.Frame
		want dfu.Status
	}{
		{"DATA before BEGIN", data(0, img[:10]), dfu.StatusState},
		{"VERIFY before BEGIN", dfu.Frame{Type: dfu.CmdVerify}, dfu.StatusState},
		{"ACTIVATE before BEGIN", dfu.Frame{Type: dfu.CmdActivate}, dfu.StatusState},
		{"CONFIRM of a confirmed image", dfu.Frame{Type: dfu.CmdConfirm}, dfu.StatusNotInTest},
		{"INFO with a payload", dfu.Frame{Type: dfu.CmdInfo, Payload: []byte{1}}, dfu.StatusMalformed},
		{"unknown command", dfu.Frame{Type: 0x55}, dfu.StatusUnknown},
		{"BEGIN with half a manifest", dfu.Frame{Type: dfu.CmdBegin, Payload: good[:70]}, dfu.StatusBadManifest},
		{"BEGIN with a forged counter", dfu.Frame{Type: dfu.CmdBegin, Payload: func() []byte {
			b := bytes.Clone(good)
			b[28] = 200
			return b
		}()}, dfu.StatusSignature},
		{"BEGIN", dfu.Frame{Type: dfu.CmdBegin, Payload: good}, dfu.StatusOK},
		{"DATA of no byte", dfu.Frame{Type: dfu.CmdData, Payload: []byte{0, 0, 0, 0}}, dfu.StatusMalformed},
		{"DATA over the chunk limit", data(0, make([]byte, 257)), dfu.StatusMalformed},
		{"DATA ahead", data(256, img[256:512]), dfu.StatusOffset},
		{"DATA at 2^32-1", data(0xFFFFFFFF, img[:2]), dfu.StatusOffset},
		{"DATA of wrong bytes", data(0, make([]byte, 256)), dfu.StatusOK},
		{"DATA duplicate", data(0, make([]byte, 256)), dfu.StatusOK},
		{"DATA running over the end", data(256, make([]byte, 256)), dfu.StatusOK},
		{"DATA over the end", data(512, make([]byte, 256)), dfu.StatusOffset},
		{"DATA to the end", data(512, img[512:]), dfu.StatusOK},
		{"ACTIVATE before VERIFY", dfu.Frame{Type: dfu.CmdActivate}, dfu.StatusState},
		{"VERIFY of wrong bytes", dfu.Frame{Type: dfu.CmdVerify}, dfu.StatusDigest},
		{"ACTIVATE after a failed VERIFY", dfu.Frame{Type: dfu.CmdActivate}, dfu.StatusState},
	}
	for _, s := range steps {
		r := e.exchange(s.f)
		if len(r) == 0 || dfu.Status(r[0]) != s.want {
			t.Fatalf("%s: reply % x, want %s", s.name, r, s.want)
		}
	}
	// After all that the factory image runs, confirmed, counter unmoved.
	st := e.State()
	if st.Digest != factory.Digest || st.Testing || st.Counter != 3 || st.Pending != -1 {
		t.Fatalf("state %+v", st)
	}
}

// FuzzEmulator sends the emulator arbitrary commands after a valid BEGIN:
// it never panics, never confirms or runs an image the key did not sign,
// and never moves the counter.
func FuzzEmulator(f *testing.F) {
	img := Image(600, "fuzz", false)
	_, good, _ := manifest.New(testKey, "sam-v2", manifest.Version{Major: 2}, 4, img)
	seed := dfu.AppendFrame(nil, dfu.CmdData, 1, dfu.AppendData(nil, 0, img[:256]))
	seed = dfu.AppendFrame(seed, dfu.CmdVerify, 2, nil)
	seed = dfu.AppendFrame(seed, dfu.CmdActivate, 3, nil)
	seed = dfu.AppendFrame(seed, dfu.CmdConfirm, 4, nil)
	f.Add(seed)
	f.Add(dfu.AppendFrame(nil, dfu.CmdBegin, 1, good[:100]))
	memo := map[[manifest.Size]byte]error{}
	f.Fuzz(func(t *testing.T, stream []byte) {
		e, factory := newEmu(t, memo)
		if r := e.exchange(dfu.Frame{Type: dfu.CmdBegin, Payload: good}); dfu.Status(r[0]) != dfu.StatusOK {
			t.Fatalf("BEGIN: % x", r)
		}
		var d dfu.Decoder
		d.Write(stream)
		for n := 0; n < 64; n++ {
			fr, err := d.Next()
			if err == dfu.ErrIncomplete {
				break
			}
			if err != nil {
				continue
			}
			e.exchange(fr)
		}
		st := e.State()
		if st.Counter != 3 && st.Counter != 4 {
			t.Fatalf("counter %d", st.Counter)
		}
		if st.Digest != factory.Digest && st.Digest != sha256.Sum256(img) {
			t.Fatalf("runs an image of digest %x", st.Digest)
		}
	})
}
