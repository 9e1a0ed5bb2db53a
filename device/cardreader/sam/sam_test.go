package sam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/idnumber"
	"github.com/guichet/guichet/firmware-bridge/frame"
	bridge "github.com/guichet/guichet/firmware-bridge/sam"
	"github.com/guichet/guichet/firmware-bridge/sam/samemu"
)

// emulate serves an emulated module holding the specimen card on a
// pseudo-terminal and returns it with the terminal's path.
func emulate(t testing.TB) (*samemu.Emulator, string) {
	t.Helper()
	e := samemu.New()
	if err := e.SetCard(samemu.SampleText(), nil); err != nil {
		t.Fatal(err)
	}
	p, err := e.ServePTY(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("emulator: %v", err)
		}
	})
	return e, p.Path
}

// openYAML opens the driver through the registry, from configuration text,
// as the daemon does.
func openYAML(t *testing.T, ctx context.Context, conf string) (cardreader.Reader, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(conf), &n); err != nil {
		t.Fatal(err)
	}
	// Unmarshal into a Node gives a document node; its content is the map.
	return cardreader.Drivers.Open(ctx, "sam", n.Content[0])
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

const fast = "timeout: 150ms\nread_timeout: 300ms\npoll_interval: 20ms\n"

func openFast(t *testing.T, path string) cardreader.Reader {
	t.Helper()
	r, err := openYAML(t, ctxTimeout(t, 5*time.Second), fmt.Sprintf("port: %s\n%s", path, fast))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func TestRegistered(t *testing.T) {
	if !cardreader.Drivers.Has("sam") {
		t.Fatal("driver sam not registered")
	}
}

func TestReadCardFromConfiguration(t *testing.T) {
	_, path := emulate(t)
	r := openFast(t, path)
	c, err := r.ReadCard(ctxTimeout(t, 5*time.Second), cardreader.Access{})
	if err != nil {
		t.Fatal(err)
	}
	want := cardreader.Card{
		Kind: "cn-resident", IDNumber: "11010519491231002X", Name: "韩梅梅", Sex: "女", Nationality: "汉",
		BirthDate: "1949-12-31", ExpiryDate: "2040-01-01", Address: "北京市朝阳区示例路1号",
		Issuer: "北京市公安局朝阳分局", PhotoFormat: "wlt", Verified: true,
	}
	got := *c
	got.Photo, got.ReadAt = nil, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("card\n got %+v\nwant %+v", got, want)
	}
	if !bytes.Equal(c.Photo, samemu.SamplePhoto()) || time.Since(c.ReadAt) > time.Minute {
		t.Fatalf("photo of %d bytes, read at %v", len(c.Photo), c.ReadAt)
	}
}

func TestReadCardFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault samemu.Fault
		times int
		want  error // nil: the retry absorbs it
	}{
		{"corrupt once", samemu.FaultCorruptChecksum, 1, nil},
		{"short once", samemu.FaultShortReply, 1, nil},
		{"garbage", samemu.FaultGarbage, 0, nil},
		{"corrupt always", samemu.FaultCorruptChecksum, 0, frame.ErrChecksum},
		{"short always", samemu.FaultShortReply, 0, bridge.ErrMalformed},
		{"truncated always", samemu.FaultTruncated, 0, bridge.ErrNoReply},
		{"silent always", samemu.FaultSilent, 0, bridge.ErrNoReply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, path := emulate(t)
			r := openFast(t, path)
			e.Inject(tc.fault, bridge.CmdReadBase, tc.times)
			c, err := r.ReadCard(ctxTimeout(t, 10*time.Second), cardreader.Access{})
			if tc.want == nil {
				if err != nil || c.IDNumber != "11010519491231002X" {
					t.Fatalf("card %+v, err %v", c, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A module that trickles its reply slower than the timeout allows is given
// up on; one that trickles within it is waited for.
func TestReadCardSlow(t *testing.T) {
	e, path := emulate(t)
	r := openFast(t, path)
	e.SetSlowByteDelay(3 * time.Millisecond) // 19 bytes of select reply: about 60 ms
	e.Inject(samemu.FaultSlow, bridge.CmdSelectCard, 0)
	if _, err := r.ReadCard(ctxTimeout(t, 10*time.Second), cardreader.Access{}); err != nil {
		t.Fatalf("slow within timeout: %v", err)
	}
	e.ClearFaults()
	e.SetSlowByteDelay(30 * time.Millisecond) // 570 ms, over the 150 ms timeout
	e.Inject(samemu.FaultSlow, bridge.CmdSelectCard, 0)
	start := time.Now()
	_, err := r.ReadCard(ctxTimeout(t, 10*time.Second), cardreader.Access{})
	if !errors.Is(err, bridge.ErrNoReply) {
		t.Fatalf("slow over timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

func TestReadCardNoCard(t *testing.T) {
	e, path := emulate(t)
	e.RemoveCard()
	r := openFast(t, path)
	_, err := r.ReadCard(ctxTimeout(t, 300*time.Millisecond), cardreader.Access{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if e.Count(bridge.CmdFindCard) < 3 {
		t.Fatalf("searched %d times", e.Count(bridge.CmdFindCard))
	}
}

func TestReadCardBadCheckCharacter(t *testing.T) {
	e, path := emulate(t)
	tx := samemu.SampleText()
	tx.IDNumber = "110105194912310023"
	if err := e.SetCard(tx, nil); err != nil {
		t.Fatal(err)
	}
	r := openFast(t, path)
	c, err := r.ReadCard(ctxTimeout(t, 5*time.Second), cardreader.Access{})
	if c != nil || !errors.Is(err, bridge.ErrCardData) || !errors.Is(err, idnumber.ErrCheck) {
		t.Fatalf("card %v, err %v", c, err)
	}
	if strings.Contains(err.Error(), "110105") {
		t.Fatalf("error %q carries the ID number", err)
	}
}

func TestPhotoDecoderOption(t *testing.T) {
	_, path := emulate(t)
	r, err := openYAML(t, ctxTimeout(t, 5*time.Second), fmt.Sprintf(
		"port: %s\n%sphoto_decoder: [/bin/sh, -c, \"cat >/dev/null; printf '\\\\377\\\\330\\\\377jpeg'\"]\nphoto_decoder_timeout: 5s\n", path, fast))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.ReadCard(ctxTimeout(t, 10*time.Second), cardreader.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if c.PhotoFormat != "jpeg" || string(c.Photo[3:]) != "jpeg" {
		t.Fatalf("photo %q % X", c.PhotoFormat, c.Photo)
	}
}

func TestOpenErrors(t *testing.T) {
	e, path := emulate(t)
	for _, tc := range []struct {
		name, conf, text string
	}{
		{"no port", "baud: 115200", "no serial port"},
		{"odd baud", "port: " + path + "\nbaud: 12345", "baud rate 12345"},
		{"missing device", "port: /dev/does-not-exist", "opening /dev/does-not-exist"},
		{"bad duration", "port: " + path + "\ntimeout: soon", "options"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := openYAML(t, ctxTimeout(t, 5*time.Second), tc.conf)
			if err == nil {
				r.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), `card reader driver "sam"`) {
				t.Fatalf("err = %v, want it to say %q", err, tc.text)
			}
		})
	}
	t.Run("silent module", func(t *testing.T) {
		e.Inject(samemu.FaultSilent, 0, 0)
		defer e.ClearFaults()
		start := time.Now()
		_, err := openYAML(t, ctxTimeout(t, 5*time.Second), fmt.Sprintf("port: %s\n%s", path, fast))
		if !errors.Is(err, bridge.ErrNoReply) || time.Since(start) > 3*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
}
