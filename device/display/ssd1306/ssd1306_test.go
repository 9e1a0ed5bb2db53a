package ssd1306

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	oled "periph.io/x/devices/v3/ssd1306"
	"periph.io/x/devices/v3/ssd1306/image1bit"

	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/display/render"
)

var update = flag.Bool("update", false, "re-record the bus conversations in testdata")

const emvPayload = "00020101021226390015com.guichet.pay0116MCH00012345678905204541153031565406128.505802CN5917GUICHET DEMO SHOP6009GUANGZHOU62260512T202611230010706TILL036304DBBF"

var (
	payScreen  = display.Screen{QR: emvPayload, Lines: []string{"CNY", "128.50", "Scan to", "pay"}}
	paidScreen = display.Screen{Lines: []string{"Paid", "CNY 128.50", "Thank you"}}
)

// step is one call on the driver; its name heads its bus traffic in the
// recorded file.
type step struct {
	name string
	do   func(*Dev) error
}

// conversation is what the recorded file holds: init, a payment screen,
// the same screen again (no traffic), a paid screen (only what changed),
// a screen that cannot be drawn (blanked), and close (display off).
var conversation = []step{
	{"show payment QR", func(d *Dev) error { return d.Show(context.Background(), payScreen) }},
	{"show the same screen: nothing to send", func(d *Dev) error { return d.Show(context.Background(), payScreen) }},
	{"show paid: only changed pages and columns", func(d *Dev) error { return d.Show(context.Background(), paidScreen) }},
	{"show a payload too big: panel blanked", func(d *Dev) error {
		err := d.Show(context.Background(), display.Screen{QR: strings.Repeat("x", 500)})
		if !errors.Is(err, render.ErrTooBig) {
			return fmt.Errorf("want ErrTooBig, got %v", err)
		}
		return nil
	}},
	{"close: display off", func(d *Dev) error { return d.Close() }},
}

// run plays the conversation on bus and returns, for each step (New first),
// the number of bus operations done so far when it ended.
func run(t *testing.T, bus i2c.Bus, ops func() int) []int {
	t.Helper()
	d, err := New(bus, Options{})
	if err != nil {
		t.Fatal(err)
	}
	marks := []int{ops()}
	for _, s := range conversation {
		if err := s.do(d); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		marks = append(marks, ops())
	}
	return marks
}

// TestPlayback replays the recorded bus conversation: the test fails at the
// first byte the driver sends differently, and closing the playback fails
// if the driver sent less than was recorded.
func TestPlayback(t *testing.T) {
	path := filepath.Join("testdata", "conversation_128x64.txt")
	if *update {
		// The panel model acknowledges the writes and refuses a command
		// stream it cannot parse.
		rec := &i2ctest.Record{Bus: newPanel(128, 64)}
		marks := run(t, rec, func() int { return len(rec.Ops) })
		names := []string{"New: init (datasheet power-on sequence) and clear"}
		for _, s := range conversation {
			names = append(names, s.name)
		}
		if err := os.WriteFile(path, formatOps(rec.Ops, marks, names), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ops := readOps(t, path)
	pb := &i2ctest.Playback{Ops: ops, DontPanic: true}
	run(t, pb, func() int { return pb.Count })
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	// The recording itself says what the datasheet says.
	for i, op := range ops {
		if op.Addr != DefaultAddress {
			t.Fatalf("op %d to %#x, want 0x3c", i, op.Addr)
		}
		if c := op.W[0]; c != 0x00 && c != 0x40 {
			t.Fatalf("op %d control byte %#x, want 0x00 (commands) or 0x40 (data)", i, c)
		}
	}
	if last := ops[len(ops)-1].W; !bytes.Equal(last, []byte{0x00, 0xAE}) {
		t.Fatalf("last op % x, want display off (00 ae)", last)
	}
}

// panel is an I²C bus with a model of an SSD1306 behind it: it parses the
// command stream and keeps GDDRAM as the datasheet describes it (sections
// 8.7 and 10.1.3). Page-addressing commands (B0h-B7h, 00h-1Fh) are ignored in
// horizontal addressing mode, as the datasheet says, so a driver that relied
// on them would leave the model's RAM wrong.
type panel struct {
	w, pages       int
	ram            []byte
	mode           byte // 0 horizontal, 1 vertical, 2 page (power-on)
	c0, c1, p0, p1 int  // window
	col, page      int  // pointer
	on             bool
}

func newPanel(w, h int) *panel {
	return &panel{w: w, pages: h / 8, ram: make([]byte, w*h/8), mode: 2, c1: 127, p1: 7}
}

// args is the number of parameter bytes of the commands the driver may send.
var args = map[byte]int{
	0xD3: 1, 0xDA: 1, 0x81: 1, 0xD5: 1, 0x8D: 1, 0xD9: 1, 0xDB: 1, 0xA8: 1, 0x20: 1, 0x21: 2, 0x22: 2,
	0xAE: 0, 0xAF: 0, 0x40: 0, 0xA0: 0, 0xA1: 0, 0xC0: 0, 0xC8: 0, 0xA4: 0, 0xA6: 0, 0xA7: 0, 0x2E: 0,
}

func (p *panel) String() string                  { return "panel" }
func (p *panel) SetSpeed(physic.Frequency) error { return nil }

func (p *panel) Tx(addr uint16, w, r []byte) error {
	if len(r) != 0 || len(w) == 0 {
		return fmt.Errorf("panel: read or empty write")
	}
	switch w[0] {
	case 0x40:
		for _, b := range w[1:] {
			p.data(b)
		}
		return nil
	case 0x00:
	default:
		return fmt.Errorf("panel: control byte %#x", w[0])
	}
	cmds := w[1:]
	for len(cmds) > 0 {
		c := cmds[0]
		n, ok := args[c]
		if c >= 0xB0 && c <= 0xB7 || c <= 0x1F && c != 0 || c == 0x00 {
			n, ok = 0, true
			if p.mode == 2 {
				return fmt.Errorf("panel: page addressing mode is not modelled")
			}
		}
		if !ok {
			return fmt.Errorf("panel: unknown command %#x", c)
		}
		if len(cmds) < 1+n {
			return fmt.Errorf("panel: command %#x truncated", c)
		}
		a := cmds[1 : 1+n]
		switch c {
		case 0x20:
			p.mode = a[0] & 3
		case 0x21:
			p.c0, p.c1, p.col = int(a[0]&0x7F), int(a[1]&0x7F), int(a[0]&0x7F)
		case 0x22:
			p.p0, p.p1, p.page = int(a[0]&7), int(a[1]&7), int(a[0]&7)
		case 0xAE:
			p.on = false
		case 0xAF:
			p.on = true
		}
		cmds = cmds[1+n:]
	}
	return nil
}

func (p *panel) data(b byte) {
	if p.mode != 0 {
		panic("panel: data outside horizontal addressing mode")
	}
	if p.page < p.pages && p.col < p.w {
		p.ram[p.page*p.w+p.col] = b
	}
	p.col++
	if p.col > p.c1 {
		p.col = p.c0
		p.page++
		if p.page > p.p1 {
			p.page = p.p0
		}
	}
}

// packed is img in GDDRAM layout, computed independently of the driver:
// page p, column x, bit i is pixel (x, 8p+i), lit pixels set.
func packed(img *image.Gray) []byte {
	size := img.Rect.Size()
	out := make([]byte, size.X*size.Y/8)
	for p := 0; p < size.Y/8; p++ {
		for x := 0; x < size.X; x++ {
			for i := 0; i < 8; i++ {
				if img.GrayAt(x, 8*p+i).Y == 255 {
					out[p*size.X+x] |= 1 << i
				}
			}
		}
	}
	return out
}

// TestFrameBytes checks that after each screen, full or partial update, the
// controller's RAM holds the rendered image packed in page format.
func TestFrameBytes(t *testing.T) {
	screens := []display.Screen{
		// 14 bytes, the most a version 1 symbol holds at level M: the
		// largest code a 32-pixel-high panel shows.
		{QR: "G42-0001-CN128", Lines: []string{"Hi"}},
		{QR: "G42-0001-CN128", Lines: []string{"Ho"}},
		{Lines: []string{"Paid"}},
		{QR: "12345678"},
		{},
	}
	for _, size := range []image.Point{{128, 64}, {128, 32}, {64, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(t *testing.T) {
			pn := newPanel(size.X, size.Y)
			for i := range pn.ram {
				pn.ram[i] = 0xA5 // what a warm restart leaves
			}
			d, err := New(pn, Options{Width: size.X, Height: size.Y, Sequential: size.Y == 32})
			if err != nil {
				t.Fatal(err)
			}
			if !pn.on || bytes.Count(pn.ram, []byte{0}) != len(pn.ram) {
				t.Fatal("New did not leave the panel on and clear")
			}
			for _, s := range screens {
				if err := d.Show(context.Background(), s); err != nil {
					t.Fatal(err)
				}
				img, err := render.Screen(s, size)
				if err != nil {
					t.Fatal(err)
				}
				if want := packed(img); !bytes.Equal(pn.ram, want) {
					t.Fatalf("after %+v GDDRAM differs from the rendered image:\nram  % x\nwant % x", s, pn.ram, want)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if pn.on {
				t.Fatal("panel still on after Close")
			}
		})
	}
}

// TestPartialUpdate checks that a change of one line sends a small window.
func TestPartialUpdate(t *testing.T) {
	rec := &i2ctest.Record{Bus: newPanel(128, 64)}
	d, err := New(rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Show(context.Background(), payScreen); err != nil {
		t.Fatal(err)
	}
	n := len(rec.Ops)
	s := payScreen
	s.Lines = []string{"CNY", "128.50", "Scan to", "PAY"}
	if err := d.Show(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, op := range rec.Ops[n:] {
		if op.W[0] == 0x40 {
			sent += len(op.W) - 1
		}
	}
	// The last line spans rows 45 to 57: pages 5 to 7, three glyphs wide.
	if sent == 0 || sent > 3*7*3 {
		t.Fatalf("changing one word sent %d data bytes, want a window of at most 3 pages x 21 columns", sent)
	}
}

func TestAddressAndRotation(t *testing.T) {
	rec := &i2ctest.Record{}
	if _, err := New(rec, Options{Address: 0x3D, Rotated: true, Width: 128, Height: 32, Sequential: true}); err != nil {
		t.Fatal(err)
	}
	for i, op := range rec.Ops {
		if op.Addr != 0x3D {
			t.Fatalf("op %d went to %#x, want 0x3d", i, op.Addr)
		}
	}
	init := rec.Ops[0].W
	// Rotated: segment remap A0h and COM scan C0h; sequential COM pins: DAh 02h;
	// multiplex ratio 31 for 32 rows.
	for _, want := range [][]byte{{0xA0, 0xC0}, {0xDA, 0x02}, {0xA8, 31}} {
		if !bytes.Contains(init, want) {
			t.Errorf("init % x lacks % x", init, want)
		}
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Address: 0x50}, "address 0x50"},
		{Options{Address: 0xFFFF}, "address 0xffff"},
		{Options{Width: 100}, "width 100"},
		{Options{Width: 256}, "width 256"},
		{Options{Width: -8}, "width -8"},
		{Options{Height: 128}, "height 128"},
		{Options{Height: 4}, "height 4"},
	}
	for _, tt := range tests {
		rec := &i2ctest.Record{}
		_, err := New(rec, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error about %q", tt.o, err, tt.want)
		}
		if len(rec.Ops) != 0 {
			t.Errorf("New(%+v) sent %d ops before refusing", tt.o, len(rec.Ops))
		}
		// Open checks options before it touches the host.
		if _, err := Open(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%+v) = %v, want an error about %q", tt.o, err, tt.want)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil bus) succeeded")
	}
}

func TestRegistry(t *testing.T) {
	if !display.Drivers.Has("ssd1306") {
		t.Fatal("ssd1306 not registered")
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("address: 0x50\n"), &n); err != nil {
		t.Fatal(err)
	}
	_, err := display.Drivers.Open(context.Background(), "ssd1306", n.Content[0])
	if err == nil || !strings.Contains(err.Error(), "address 0x50") {
		t.Fatalf("open with address 0x50: %v", err)
	}
	if err := yaml.Unmarshal([]byte("width: [1]\n"), &n); err != nil {
		t.Fatal(err)
	}
	if _, err := display.Drivers.Open(context.Background(), "ssd1306", n.Content[0]); err == nil || !strings.Contains(err.Error(), "options") {
		t.Fatalf("open with a list for width: %v", err)
	}
	// No such bus on a test machine, or on any: a clear error, no panic.
	if err := yaml.Unmarshal([]byte("bus: no-such-bus\naddress: 0x3D\n"), &n); err != nil {
		t.Fatal(err)
	}
	if _, err := display.Drivers.Open(context.Background(), "ssd1306", n.Content[0]); err == nil || !strings.Contains(err.Error(), `open I2C bus "no-such-bus"`) {
		t.Fatalf("open on a missing bus: %v", err)
	}
}

func TestShowAfterCloseAndCancel(t *testing.T) {
	rec := &i2ctest.Record{}
	d, err := New(rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := len(rec.Ops)
	if err := d.Show(ctx, payScreen); !errors.Is(err, context.Canceled) {
		t.Fatalf("show with cancelled ctx: %v", err)
	}
	if len(rec.Ops) != n {
		t.Fatal("cancelled show sent bytes")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	n = len(rec.Ops)
	if err := d.Show(context.Background(), payScreen); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("show after close: %v", err)
	}
	if len(rec.Ops) != n {
		t.Fatal("show after close sent bytes")
	}
}

// TestBusError checks that a bus failure (panel unplugged) surfaces as an
// error with context, from New and from Show.
func TestBusError(t *testing.T) {
	if _, err := New(&i2ctest.Playback{DontPanic: true}, Options{}); err == nil || !strings.Contains(err.Error(), "init at 0x3c") {
		t.Fatalf("New on a dead bus: %v", err)
	}
	rec := &i2ctest.Record{}
	if _, err := New(rec, Options{}); err != nil {
		t.Fatal(err)
	}
	pb := &i2ctest.Playback{Ops: rec.Ops, DontPanic: true}
	d, err := New(pb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Show(context.Background(), payScreen); err == nil || !strings.Contains(err.Error(), "ssd1306: show") {
		t.Fatalf("show on a dead bus: %v", err)
	}
}

// formatOps writes ops one a line as "3c: 00 ae ...", with a comment line
// naming the step before each step's operations.
func formatOps(ops []i2ctest.IO, marks []int, names []string) []byte {
	var b bytes.Buffer
	b.WriteString("# I2C writes of the ssd1306 driver, one transaction a line: address, then bytes.\n")
	b.WriteString("# Control byte 00 = commands follow, 40 = display data follows (SSD1306 datasheet 8.1.5).\n")
	b.WriteString("# Regenerate with: go test ./device/display/ssd1306 -run TestPlayback -update\n")
	start := 0
	for i, end := range marks {
		fmt.Fprintf(&b, "# %s\n", names[i])
		for _, op := range ops[start:end] {
			fmt.Fprintf(&b, "%02x:", op.Addr)
			for _, c := range op.W {
				fmt.Fprintf(&b, " %02x", c)
			}
			b.WriteByte('\n')
		}
		start = end
	}
	return b.Bytes()
}

func readOps(t *testing.T, path string) []i2ctest.IO {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to record it)", err)
	}
	defer f.Close()
	var ops []i2ctest.IO
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		addr, data, ok := strings.Cut(line, ":")
		a, err := strconv.ParseUint(addr, 16, 16)
		if !ok || err != nil {
			t.Fatalf("%s:%d: bad address %q", path, n, addr)
		}
		w, err := hex.DecodeString(strings.ReplaceAll(data, " ", ""))
		if err != nil || len(w) == 0 {
			t.Fatalf("%s:%d: bad bytes: %v", path, n, err)
		}
		ops = append(ops, i2ctest.IO{Addr: uint16(a), W: w})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatalf("%s: no operations", path)
	}
	return ops
}

// FuzzShow shows arbitrary screens in a row on the panel model: after each,
// GDDRAM holds the rendered image, or is blank when it cannot be rendered.
func FuzzShow(f *testing.F) {
	f.Add(emvPayload, "CNY 128.50", "", "Paid")
	f.Add("", "", "12345678", "谢谢")
	f.Add(strings.Repeat("x", 300), "\x00\xff", "é", strings.Repeat("9", 1000))
	f.Fuzz(func(t *testing.T, qr1, line1, qr2, line2 string) {
		pn := newPanel(128, 64)
		d, err := New(pn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []display.Screen{{QR: qr1, Lines: []string{line1}}, {QR: qr2, Lines: []string{line2, line1}}} {
			err := d.Show(context.Background(), s)
			want := make([]byte, len(pn.ram))
			img, rerr := render.Screen(s, image.Pt(128, 64))
			if rerr == nil {
				want = packed(img)
			}
			if (err == nil) != (rerr == nil) || err != nil && !strings.Contains(err.Error(), "panel blanked") {
				t.Fatalf("show: %v (render: %v)", err, rerr)
			}
			if !bytes.Equal(pn.ram, want) {
				t.Fatalf("GDDRAM differs after %q", s)
			}
		}
	})
}

func TestOptionsYAML(t *testing.T) {
	var o Options
	src := "bus: \"1\"\naddress: 0x3D\nwidth: 128\nheight: 32\nrotated: true\nsequential: true\n"
	if err := yaml.Unmarshal([]byte(src), &o); err != nil {
		t.Fatal(err)
	}
	want := Options{Bus: "1", Address: 0x3D, Width: 128, Height: 32, Rotated: true, Sequential: true}
	if o != want {
		t.Fatalf("decoded %+v, want %+v", o, want)
	}
	if err := yaml.Unmarshal([]byte("address: 70000\n"), &o); err == nil {
		t.Fatal("address 70000 decoded into a uint16")
	}
}

// TestConcurrentShow shows screens from several goroutines, as the checkout
// and the UI may: each Show is atomic on the bus, so the panel ends holding
// one of the screens whole.
func TestConcurrentShow(t *testing.T) {
	pn := newPanel(128, 64)
	d, err := New(pn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	screens := []display.Screen{payScreen, paidScreen, {QR: "G42", Lines: []string{"Hello"}}}
	done := make(chan error)
	for _, s := range screens {
		go func() {
			var err error
			for range 5 {
				if err = d.Show(context.Background(), s); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range screens {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	ok := false
	for _, s := range screens {
		img, _ := render.Screen(s, image.Pt(128, 64))
		ok = ok || bytes.Equal(pn.ram, packed(img))
	}
	if !ok {
		t.Fatal("GDDRAM holds none of the screens whole")
	}
}

// TestPeriphPartialUpdate documents why frames are not sent by periph's
// driver: its partial update positions the window with page-addressing
// commands that a controller in horizontal addressing mode ignores, per the
// datasheet, so on the model the update lands in the wrong place. If this
// test fails, periph has changed and its Draw may be usable again.
func TestPeriphPartialUpdate(t *testing.T) {
	pn := newPanel(128, 64)
	p, err := oled.NewI2C(pn, &oled.Opts{W: 128, H: 64})
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, s := range []display.Screen{payScreen, {QR: emvPayload, Lines: []string{"CNY", "128.50", "Scan to", "PAY"}}} {
		img, err := render.Screen(s, image.Pt(128, 64))
		if err != nil {
			t.Fatal(err)
		}
		v := image1bit.NewVerticalLSB(img.Rect)
		pack(v, img)
		if err := p.Draw(v.Rect, v, image.Point{}); err != nil {
			t.Fatal(err)
		}
		want = v.Pix
	}
	if bytes.Equal(pn.ram, want) {
		t.Fatal("periph's partial update now lands right on a datasheet-faithful controller")
	}
}
