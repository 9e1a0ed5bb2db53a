package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/internal/atomicfile"
	"github.com/guichet/guichet/internal/keys"
)

func init() {
	register("firmware", "sign, inspect and install a peripheral's firmware (keygen, sign, show, info, update)", runFirmware)
}

const firmwareUsage = `usage: guichet firmware keygen --key FILE
       guichet firmware sign --key FILE --class CLASS --version X.Y.Z --counter N --image FILE [--out FILE]
       guichet firmware show --manifest FILE [--pubkey FILE]
       guichet firmware info --port DEVICE [--baud N]
       guichet firmware update --port DEVICE --manifest FILE --image FILE [--baud N] [--boot-wait DURATION]`

// runFirmware dispatches "firmware SUBCOMMAND FLAGS".
func runFirmware(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand\n%s", errUsage, firmwareUsage)
	}
	switch args[0] {
	case "keygen":
		return firmwareKeygen(e, args[1:])
	case "sign":
		return firmwareSign(e, args[1:])
	case "show":
		return firmwareShow(e, args[1:])
	case "info":
		return firmwareInfo(ctx, e, args[1:])
	case "update":
		return firmwareUpdate(ctx, e, args[1:])
	case "-h", "--help", "-help", "help":
		fmt.Fprintln(e.stdout, firmwareUsage)
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand %q\n%s", errUsage, args[0], firmwareUsage)
}

func noArgs(fs interface {
	NArg() int
	Arg(int) string
}) error {
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// required checks flags given as name, value pairs, in order.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("%w: --%s is required", errUsage, pairs[i])
		}
	}
	return nil
}

// firmwareKeygen creates the signing key (the platform keeps it; its
// public half is baked into the peripheral's bootloader).
func firmwareKeygen(e *env, args []string) error {
	fs := newFlags(e, "firmware keygen", "--key FILE")
	path := fs.String("key", "", "private key `FILE` to create (its public key goes to FILE.pub)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := required("key", *path); err != nil {
		return err
	}
	k, err := keys.LoadOrCreate(*path)
	if err != nil {
		return err
	}
	pub := k.Public().(ed25519.PublicKey)
	id := manifest.KeyID(pub)
	fmt.Fprintf(e.stdout, "public key %s\nkey id %s\n", keys.EncodePublic(pub), hex.EncodeToString(id[:]))
	return nil
}

func firmwareSign(e *env, args []string) error {
	fs := newFlags(e, "firmware sign", "--key FILE --class CLASS --version X.Y.Z --counter N --image FILE [--out FILE]")
	keyPath := fs.String("key", "", "signing key `FILE` (see keygen)")
	class := fs.String("class", "", "device `CLASS` the image is built for, such as sam-v2")
	version := fs.String("version", "", "image `VERSION`, MAJOR.MINOR.PATCH")
	counter := fs.Uint("counter", 0, "security `COUNTER`: raise it to make older images refused once this one is confirmed")
	imagePath := fs.String("image", "", "firmware image `FILE`")
	out := fs.String("out", "", "manifest `FILE` to write (default IMAGE.manifest)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := required("key", *keyPath, "class", *class, "version", *version, "image", *imagePath); err != nil {
		return err
	}
	if *counter > 0xFFFFFFFF {
		return fmt.Errorf("%w: --counter %d exceeds 32 bits", errUsage, *counter)
	}
	v, err := manifest.ParseVersion(*version)
	if err != nil {
		return fmt.Errorf("%w: --version: %v", errUsage, err)
	}
	k, err := keys.Load(*keyPath)
	if err != nil {
		return err
	}
	img, err := os.ReadFile(*imagePath)
	if err != nil {
		return err
	}
	m, b, err := manifest.New(k, *class, v, uint32(*counter), img)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = *imagePath + ".manifest"
	}
	if err := atomicfile.Write(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s %s counter %d, %d bytes, sha256 %x\n", *out, m.Class, m.Version, m.Counter, m.Size, m.Digest)
	return nil
}

func firmwareShow(e *env, args []string) error {
	fs := newFlags(e, "firmware show", "--manifest FILE [--pubkey FILE]")
	path := fs.String("manifest", "", "manifest `FILE`")
	pubPath := fs.String("pubkey", "", "verify the signature with this public key `FILE` (base64)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := required("manifest", *path); err != nil {
		return err
	}
	b, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	m, err := manifest.Parse(b)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "class    %s\nversion  %s\ncounter  %d\nsize     %d\nsha256   %x\nkey id   %x\n", m.Class, m.Version, m.Counter, m.Size, m.Digest, m.KeyID)
	if *pubPath != "" {
		pub, err := keys.LoadPublic(*pubPath)
		if err != nil {
			return err
		}
		if err := m.Verify(pub); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "signature valid")
	}
	return nil
}

func openPort(port string, baud int) (serial.Port, error) {
	p, err := serial.Open(port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", port, err)
	}
	return p, nil
}

func firmwareInfo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "firmware info", "--port DEVICE [--baud N]")
	port := fs.String("port", "", "serial `DEVICE` of the peripheral")
	baud := fs.Int("baud", 115200, "line `RATE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := required("port", *port); err != nil {
		return err
	}
	p, err := openPort(*port, *baud)
	if err != nil {
		return err
	}
	c := dfu.New(p, dfu.Options{Baud: *baud})
	defer c.Close()
	i, err := c.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "class    %s\nmode     %s\n", i.Class, i.Mode)
	if i.Mode == dfu.ModeApplication && i.Slot <= 1 {
		fmt.Fprintf(e.stdout, "image    %s %s, slot %c\nsha256   %x\n", i.Version, i.Image, 'A'+i.Slot, i.Digest)
	} else {
		fmt.Fprintln(e.stdout, "image    none: the bootloader waits for one")
	}
	fmt.Fprintf(e.stdout, "counter  %d\nupload   %s, %d of %d bytes\nchunk    %d bytes, slots of %d bytes\n",
		i.Counter, i.Upload, i.Received, i.UploadSize, i.MaxChunk, i.SlotSize)
	return nil
}

func firmwareUpdate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "firmware update", "--port DEVICE --manifest FILE --image FILE [--baud N]")
	port := fs.String("port", "", "serial `DEVICE` of the peripheral")
	baud := fs.Int("baud", 115200, "line `RATE`")
	mpath := fs.String("manifest", "", "signed manifest `FILE` (see sign)")
	ipath := fs.String("image", "", "firmware image `FILE`")
	bootWait := fs.Duration("boot-wait", 10*time.Second, "how long the new image may take to answer after activation")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := required("port", *port, "manifest", *mpath, "image", *ipath); err != nil {
		return err
	}
	mb, err := os.ReadFile(*mpath)
	if err != nil {
		return err
	}
	img, err := os.ReadFile(*ipath)
	if err != nil {
		return err
	}
	p, err := openPort(*port, *baud)
	if err != nil {
		return err
	}
	c := dfu.New(p, dfu.Options{Baud: *baud, BootWait: *bootWait})
	defer c.Close()
	bar := newProgressBar(e.stderr)
	res, err := c.Update(ctx, mb, img, bar.update)
	bar.finish()
	switch {
	case errors.Is(err, dfu.ErrNoReply) || errors.Is(err, dfu.ErrClosed):
		return fmt.Errorf("%w\nthe peripheral keeps what it received: run the same command again to resume", err)
	case err != nil:
		return err
	case res.AlreadyInstalled:
		fmt.Fprintf(e.stdout, "version %s is installed already (counter %d)\n", res.Version, res.Counter)
	default:
		from := ""
		if res.From > 0 {
			from = fmt.Sprintf(", resumed at %d bytes", res.From)
		}
		fmt.Fprintf(e.stdout, "version %s installed and confirmed, counter %d (%d chunks in %.1f s%s, %d NAKs)\n",
			res.Version, res.Counter, res.Chunks, res.Transfer.Seconds(), from, res.NAKs)
	}
	return nil
}

// progressBar draws dfu.Progress on a terminal, redrawing one line at most
// ten times a second; on anything else (a log, a pipe) it writes a line per
// phase and per quarter of the transfer.
type progressBar struct {
	w       io.Writer
	tty     bool
	last    time.Time
	phase   dfu.Phase
	quarter int
	drawn   bool
}

func newProgressBar(w io.Writer) *progressBar {
	b := &progressBar{w: w}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		b.tty = err == nil
	}
	return b
}

func (b *progressBar) update(p dfu.Progress) {
	if !b.tty {
		q := int(p.Fraction() * 4)
		if p.Phase != b.phase || (p.Phase == dfu.PhaseTransfer && q != b.quarter) {
			fmt.Fprintln(b.w, renderProgress(p, 30))
		}
		b.phase, b.quarter = p.Phase, q
		return
	}
	if p.Phase == b.phase && p.Phase == dfu.PhaseTransfer && p.Done < p.Total && time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.phase, b.last, b.drawn = p.Phase, time.Now(), true
	fmt.Fprintf(b.w, "\r\033[K%s", renderProgress(p, 30))
}

func (b *progressBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// renderProgress is one line such as
// "transfer [#######.......]  52%  266/512 KiB  10.9 KiB/s  0:21 left".
func renderProgress(p dfu.Progress, width int) string {
	n := int(p.Fraction()*float64(width) + 0.5)
	s := fmt.Sprintf("%-8s [%s%s] %3d%%  %d/%d KiB", p.Phase, strings.Repeat("#", n), strings.Repeat(".", width-n),
		int(p.Fraction()*100), p.Done/1024, p.Total/1024)
	if p.Phase == dfu.PhaseTransfer {
		if r := p.Rate(); r > 0 {
			left := p.Remaining().Round(time.Second)
			s += fmt.Sprintf("  %.1f KiB/s  %d:%02d left", r/1024, int(left.Minutes()), int(left.Seconds())%60)
		}
	}
	return s
}
