package sam_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/eid/idnumber"
	"github.com/guichet/guichet/firmware-bridge/frame"
	"github.com/guichet/guichet/firmware-bridge/sam"
	"github.com/guichet/guichet/firmware-bridge/sam/samemu"
)

// rig is an emulated module on a pseudo-terminal and a client that opened
// the terminal as a serial port, as the driver does.
type rig struct {
	emu    *samemu.Emulator
	client *sam.Client
}

// fastOpts keep the fault tests short: a silent module costs
// (Retries+1) × Timeout.
var fastOpts = sam.Options{Timeout: 150 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond}

func newRig(t *testing.T, opts sam.Options) *rig {
	t.Helper()
	emu := samemu.New()
	if err := emu.SetCard(samemu.SampleText(), nil); err != nil {
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
	c := sam.New(port, opts)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing client: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("emulator: %v", err)
		}
	})
	return &rig{emu: emu, client: c}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestReadCard(t *testing.T) {
	r := newRig(t, fastOpts)
	c, err := r.client.ReadCard(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "韩梅梅" || c.Sex != "女" || c.Nation != "汉" ||
		c.BirthDate != "1949-12-31" || c.ExpiryDate != "2040-01-01" || c.IDNumber != "11010519491231002X" ||
		c.Issuer != "北京市公安局朝阳分局" || c.Address != "北京市朝阳区示例路1号" || !c.Verified || c.ReadAt.IsZero() {
		t.Fatalf("card %+v", c)
	}
	if c.PhotoFormat != "wlt" || !bytes.Equal(c.Photo, samemu.SamplePhoto()) {
		t.Fatalf("photo %q of %d bytes", c.PhotoFormat, len(c.Photo))
	}
	for _, cmd := range []sam.Command{sam.CmdStatus, sam.CmdFindCard, sam.CmdSelectCard, sam.CmdReadBase} {
		if n := r.emu.Count(cmd); n != 1 {
			t.Errorf("%s sent %d times, want 1", cmd, n)
		}
	}
}

func TestReadCardWaitsForCard(t *testing.T) {
	r := newRig(t, fastOpts)
	r.emu.RemoveCard()
	go func() {
		time.Sleep(200 * time.Millisecond)
		r.emu.SetCard(samemu.SampleText(), nil)
	}()
	c, err := r.client.ReadCard(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.IDNumber != "11010519491231002X" {
		t.Fatalf("card %+v", c)
	}
	if n := r.emu.Count(sam.CmdFindCard); n < 3 {
		t.Fatalf("searched %d times while no card was present", n)
	}
}

func TestReadCardNoCardEndsWithContext(t *testing.T) {
	r := newRig(t, fastOpts)
	r.emu.RemoveCard()
	start := time.Now()
	_, err := r.client.ReadCard(ctxTimeout(t, 300*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("returned after %v", d)
	}
	if err := r.client.FindCard(ctxTimeout(t, time.Second)); !errors.Is(err, sam.StatusNoCard) {
		t.Fatalf("FindCard without card: %v", err)
	}
}

// A fault on one reply is absorbed by sending the command again.
func TestFaultOnceIsRetried(t *testing.T) {
	for _, tc := range []struct {
		fault samemu.Fault
		cmd   sam.Command
		sends int // commands cmd the module receives
	}{
		{samemu.FaultCorruptChecksum, sam.CmdReadBase, 2},
		{samemu.FaultShortReply, sam.CmdReadBase, 2},
		{samemu.FaultTruncated, sam.CmdReadBase, 2},
		{samemu.FaultSilent, sam.CmdReadBase, 2},
		{samemu.FaultGarbage, sam.CmdReadBase, 1}, // resynchronised on the preamble
		{samemu.FaultSlow, sam.CmdFindCard, 1},    // 15 bytes, 2 ms apart, fit in the timeout
		{samemu.FaultSilent, sam.CmdFindCard, 2},
		{samemu.FaultCorruptChecksum, sam.CmdSelectCard, 2},
		{samemu.FaultTruncated, sam.CmdStatus, 2},
	} {
		t.Run(tc.fault.String()+"/"+tc.cmd.String(), func(t *testing.T) {
			r := newRig(t, fastOpts)
			r.emu.Inject(tc.fault, tc.cmd, 1)
			c, err := r.client.ReadCard(ctxTimeout(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if c.IDNumber != "11010519491231002X" {
				t.Fatalf("card %+v", c)
			}
			if n := r.emu.Count(tc.cmd); n != tc.sends {
				t.Fatalf("%s sent %d times, want %d", tc.cmd, n, tc.sends)
			}
		})
	}
}

// A fault on every reply ends in a clear error, in bounded time.
func TestFaultAlwaysFails(t *testing.T) {
	for _, tc := range []struct {
		fault samemu.Fault
		cmd   sam.Command
		want  error
		text  string
	}{
		{samemu.FaultCorruptChecksum, sam.CmdReadBase, frame.ErrChecksum, "bad checksum"},
		{samemu.FaultShortReply, sam.CmdReadBase, sam.ErrMalformed, "lengths announce"},
		{samemu.FaultShortReply, sam.CmdStatus, sam.ErrMalformed, "no status word"},
		{samemu.FaultTruncated, sam.CmdReadBase, sam.ErrNoReply, "bytes received"},
		{samemu.FaultSilent, sam.CmdReadBase, sam.ErrNoReply, "no reply within"},
		// The trickle outlasts each attempt; what the last attempt saw of it
		// depends on timing.
		{samemu.FaultSlow, sam.CmdFindCard, sam.ErrNoReply, "no reply"},
	} {
		t.Run(tc.fault.String()+"/"+tc.cmd.String(), func(t *testing.T) {
			r := newRig(t, fastOpts)
			r.emu.SetSlowByteDelay(20 * time.Millisecond) // 15 bytes: 300 ms, over Timeout
			r.emu.Inject(tc.fault, tc.cmd, 0)
			start := time.Now()
			_, err := r.client.ReadCard(ctxTimeout(t, 10*time.Second))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.text)
			}
			if !strings.Contains(err.Error(), "after 3 attempts") {
				t.Errorf("err = %v: attempts not said", err)
			}
			// The emulator, busy trickling, may not have read them all yet.
			if n := r.emu.Count(tc.cmd); n != 3 && tc.fault != samemu.FaultSlow {
				t.Errorf("%s sent %d times, want 3", tc.cmd, n)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("gave up after %v", d)
			}
		})
	}
}

func TestSilentModuleDoesNotHang(t *testing.T) {
	r := newRig(t, fastOpts)
	r.emu.Inject(samemu.FaultSilent, 0, 0)
	start := time.Now()
	err := r.client.Status(ctxTimeout(t, 10*time.Second))
	if !errors.Is(err, sam.ErrNoReply) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < 3*fastOpts.Timeout || d > 2*time.Second {
		t.Fatalf("gave up after %v, want about %v", d, 3*fastOpts.Timeout)
	}
	// The caller's context wins over the retries.
	start = time.Now()
	err = r.client.Status(ctxTimeout(t, 50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestBadCheckCharacterIsRejected(t *testing.T) {
	r := newRig(t, fastOpts)
	tx := samemu.SampleText()
	tx.IDNumber = "110105194912310021"
	if err := r.emu.SetCard(tx, nil); err != nil {
		t.Fatal(err)
	}
	c, err := r.client.ReadCard(ctxTimeout(t, 5*time.Second))
	if !errors.Is(err, sam.ErrCardData) || !errors.Is(err, idnumber.ErrCheck) || c != nil {
		t.Fatalf("card %v, err = %v; want ErrCardData and ErrCheck", c, err)
	}
}

func TestHostileCardContent(t *testing.T) {
	good, _ := samemu.SampleText().MarshalBinary()
	foreign := bytes.Clone(good)
	foreign[248] = 'I'
	ctl := bytes.Clone(good)
	ctl[0], ctl[1] = 0x1B, 0
	for _, tc := range []struct {
		name  string
		text  []byte
		photo []byte
		want  error
	}{
		{"text of 100 bytes", good[:100], samemu.SamplePhoto(), sam.ErrText},
		{"text of 4000 bytes", make([]byte, 4000), nil, frame.ErrTooLong},
		{"foreigner card", foreign, samemu.SamplePhoto(), sam.ErrUnsupportedCard},
		{"escape in name", ctl, samemu.SamplePhoto(), sam.ErrText},
		{"all zero", make([]byte, 256), samemu.SamplePhoto(), sam.ErrCardData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, fastOpts)
			r.emu.SetRawCard(tc.text, tc.photo)
			if tc.photo == nil {
				r.emu.SetRawCard(tc.text, make([]byte, 1024))
			}
			_, err := r.client.ReadCard(ctxTimeout(t, 5*time.Second))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	r := newRig(t, fastOpts)
	ctx := ctxTimeout(t, 5*time.Second)
	// Select before find: the module refuses.
	if err := r.client.SelectCard(ctx); !errors.Is(err, sam.StatusSelectFailed) {
		t.Fatalf("select first: %v", err)
	}
	if _, _, err := r.client.ReadBase(ctx); !errors.Is(err, sam.StatusReadFailed) {
		t.Fatalf("read first: %v", err)
	}
	_, err := r.client.Exchange(ctx, 0x7777, nil)
	var se *sam.StatusError
	if !errors.As(err, &se) || se.Status != sam.StatusCommand {
		t.Fatalf("unknown command: %v", err)
	}
	if err := r.client.Reset(ctx); err != nil {
		t.Fatal(err)
	}
}

// A command abandoned by its caller must not leave its late reply to be
// taken for the answer to the next command.
func TestAbandonedReplyIsNotTakenForTheNext(t *testing.T) {
	r := newRig(t, sam.Options{Timeout: 300 * time.Millisecond, ReadTimeout: time.Second})
	r.emu.SetReadDelay(200 * time.Millisecond)
	ctx := ctxTimeout(t, 5*time.Second)
	if err := r.client.FindCard(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.client.SelectCard(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.client.ReadBase(ctxTimeout(t, 50*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("abandoned read: %v", err)
	}
	r.emu.RemoveCard()
	// The late read reply (status 90) must not pass for the answer to
	// find card, which is "no card" now.
	if err := r.client.FindCard(ctx); !errors.Is(err, sam.StatusNoCard) {
		t.Fatalf("find after abandoned read: %v", err)
	}
	if err := r.client.Status(ctx); err != nil {
		t.Fatalf("status: %v", err)
	}
}

func TestCloseUnblocksReadCard(t *testing.T) {
	r := newRig(t, sam.Options{Timeout: time.Hour, ReadTimeout: time.Hour})
	r.emu.Inject(samemu.FaultSilent, 0, 0)
	errc := make(chan error, 1)
	go func() {
		_, err := r.client.ReadCard(context.Background())
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := r.client.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, sam.ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadCard still blocked after Close")
	}
}

// writeScript writes an executable shell script standing for a WLT decoder.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatal("/bin/sh missing: apt-get install -y dash")
	}
	p := filepath.Join(t.TempDir(), "wltdecode")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPhotoDecoder(t *testing.T) {
	// The decoder checks it got the 1024 WLT bytes and answers with a PNG
	// signature followed by them.
	ok := writeScript(t, `n=$(wc -c | tr -d ' '); [ "$n" = 1024 ] || { echo "got $n bytes" >&2; exit 3; }; printf '\211PNG\r\n\032\n'; printf 'image'`)
	r := newRig(t, sam.Options{Timeout: fastOpts.Timeout, Photo: sam.ExecDecoder{Argv: []string{ok}}})
	c, err := r.client.ReadCard(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.PhotoFormat != "png" || !bytes.HasSuffix(c.Photo, []byte("image")) {
		t.Fatalf("photo %q % X", c.PhotoFormat, c.Photo)
	}
}

func TestPhotoDecoderFailures(t *testing.T) {
	for _, tc := range []struct {
		name, script, text string
		dec                sam.ExecDecoder
	}{
		{"exit status", `cat >/dev/null; echo "licence missing" >&2; exit 2`, "licence missing", sam.ExecDecoder{}},
		{"unknown output", `cat >/dev/null; echo hello`, "no known image format", sam.ExecDecoder{}},
		{"hangs", `exec sleep 30`, "deadline exceeded", sam.ExecDecoder{Timeout: 200 * time.Millisecond}},
		{"floods", `cat >/dev/null; head -c 100000 /dev/zero`, "more than", sam.ExecDecoder{MaxOutput: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := tc.dec
			dec.Argv = []string{writeScript(t, tc.script)}
			start := time.Now()
			_, _, err := dec.DecodePhoto(context.Background(), samemu.SamplePhoto())
			if !errors.Is(err, sam.ErrPhoto) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want ErrPhoto saying %q", err, tc.text)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
		})
	}
	if _, _, err := (sam.ExecDecoder{}).DecodePhoto(context.Background(), nil); !errors.Is(err, sam.ErrPhoto) {
		t.Fatalf("no command: %v", err)
	}
}

func TestImageFormat(t *testing.T) {
	for in, want := range map[string]string{
		"\x89PNG\r\n\x1a\nrest":               "png",
		"\xff\xd8\xff\xe0":                    "jpeg",
		"BM" + strings.Repeat("\x00", 60):     "bmp",
		"BM":                                  "",
		"\x00\x00\x00\x0cjP  \r\n\x87\n rest": "jp2",
		"GIF89a":                              "",
		"":                                    "",
	} {
		if got := sam.ImageFormat([]byte(in)); got != want {
			t.Errorf("ImageFormat(%q) = %q, want %q", in, got, want)
		}
	}
}
