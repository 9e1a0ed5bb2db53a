//go:build linux

// Command guichet-fwemu emulates a peripheral's bootloader and application
// on a pseudo-terminal, for demonstrations, technicians' training and
// manual tests of `guichet firmware update`. It prints the terminal's path
// on its first line of output, then serves until interrupted:
//
//	$ guichet firmware keygen --key fw.key
//	$ guichet-fwemu -dir /tmp/fw -pubkey fw.key.pub -link /tmp/fw0 &
//	/dev/pts/4
//	$ guichet firmware update --port /tmp/fw0 --manifest app.bin.manifest --image app.bin
//
// The emulated flash lives in -dir and survives restarts, so killing the
// emulator is a power cut. With -factory-manifest and -factory-image an
// empty flash gets that image in slot A, confirmed; without them the
// bootloader waits for a first image. -baud paces the line (0: as fast as
// the terminal goes). An image built with -make-image and -hang never
// answers once booted, to show the revert.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/guichet/guichet/firmware-bridge/dfu/dfuemu"
	"github.com/guichet/guichet/internal/keys"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "guichet-fwemu:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guichet-fwemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "`directory` of the emulated flash (created if missing)")
	pubPath := fs.String("pubkey", "", "public key `FILE` baked into the bootloader (base64, as keygen writes FILE.pub)")
	class := fs.String("class", "sam-v2", "device `class`")
	baud := fs.Int("baud", 115200, "pace the line to this `rate` (0: no pacing)")
	slotSize := fs.Uint("slot-size", 1<<20, "size of each slot in `bytes`")
	chunk := fs.Uint("chunk", 1024, "largest chunk accepted, in `bytes`")
	window := fs.Duration("test-window", 0, "how long a new image may run unconfirmed before the watchdog reverts it (default 5s)")
	factoryManifest := fs.String("factory-manifest", "", "manifest `FILE` of the factory image")
	factoryImage := fs.String("factory-image", "", "factory image `FILE`, put in slot A of an empty flash")
	link := fs.String("link", "", "also make a symbolic link to the terminal at `path`")
	makeImage := fs.String("make-image", "", "write a test image to `FILE` and exit (see -size, -seed, -hang)")
	size := fs.Int("size", 64*1024, "test image size in `bytes`, with -make-image")
	seed := fs.String("seed", "demo", "test image content `seed`, with -make-image")
	hang := fs.Bool("hang", false, "with -make-image: an image that never answers once booted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *makeImage != "" {
		if *size <= 0 {
			return fmt.Errorf("-size %d: want a positive size", *size)
		}
		return os.WriteFile(*makeImage, dfuemu.Image(*size, *seed, *hang), 0o644)
	}
	if *dir == "" || *pubPath == "" {
		return errors.New("-dir and -pubkey are required")
	}
	if *slotSize == 0 || *slotSize > 1<<31 || *chunk == 0 || *chunk > 4096 {
		return errors.New("-slot-size up to 2 GiB and -chunk from 1 to 4096")
	}
	pub, err := keys.LoadPublic(*pubPath)
	if err != nil {
		return err
	}
	e, err := dfuemu.New(dfuemu.Config{Dir: *dir, Key: pub, Class: *class, SlotSize: uint32(*slotSize),
		MaxChunk: uint16(*chunk), Baud: *baud, TestWindow: *window})
	if err != nil {
		return err
	}
	if (*factoryManifest == "") != (*factoryImage == "") {
		return errors.New("-factory-manifest and -factory-image go together")
	}
	if *factoryManifest != "" {
		mb, err := os.ReadFile(*factoryManifest)
		if err != nil {
			return err
		}
		img, err := os.ReadFile(*factoryImage)
		if err != nil {
			return err
		}
		if err := e.Provision(mb, img); err != nil {
			return err
		}
	}
	p, err := e.ServePTY(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	unlink, err := p.Announce(*link, stdout)
	defer unlink()
	if err != nil {
		return err
	}
	return p.Wait(ctx)
}
