package dfu_test

import (
	"context"
	"io"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/dfu/dfuemu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/ptyserve"
)

const benchBaud = 115200

// BenchmarkFirmwareTransfer sends a 512 KiB image over a pseudo-terminal
// paced at 115200 baud (the emulator paces both directions) and reports its
// transfer time, BEGIN to the last chunk's ack, next to the time the same
// bytes take on the raw line with no protocol.
func BenchmarkFirmwareTransfer(b *testing.B) {
	const size = 512 * 1024
	ctx := context.Background()

	// The anchor: 512 KiB through the paced line, one byte back.
	p, err := ptyserve.Start(ctx, func(ctx context.Context, rw io.ReadWriter) error {
		return dfuemu.Sink(ctx, rw, benchBaud, size)
	})
	if err != nil {
		b.Fatal(err)
	}
	port, err := serial.Open(p.Path, &serial.Mode{BaudRate: benchBaud})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := port.Write(make([]byte, size)); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(port, make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	raw := time.Since(start)
	port.Close()
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}

	r := newRig(b, dfuemu.Config{Baud: benchBaud}, dfu.Options{Baud: benchBaud}, 1)
	v2 := build(b, key(1), class, manifest.Version{Major: 2}, 2, size, false)
	res, err := r.client.Update(ctxFor(b, 5*time.Minute), v2.manifest, v2.image, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchfig.Report(b, "firmware_line_raw_512k_s", raw.Seconds(), "s")
	benchfig.Report(b, "firmware_transfer_512k_s", res.Transfer.Seconds(), "s")
	benchfig.Report(b, "firmware_transfer_ratio", res.Transfer.Seconds()/raw.Seconds(), "x")
}

// BenchmarkFirmwareResume pulls the cable at a moment unrelated to the
// chunks (half the expected transfer time) during a 64 KiB transfer at
// 115200 baud, plugs it back and runs the update again. It reports how many
// chunks the resumed transfer sent that the first one had sent already:
// those between the offset the peripheral reported and the end of the chunk
// that was in flight at the pull. (The first transfer's retries into the
// dead line are not counted: they never reached the peripheral.)
func BenchmarkFirmwareResume(b *testing.B) {
	const size, chunk = 64 * 1024, 1024
	r := newRig(b, dfuemu.Config{Baud: benchBaud, MaxChunk: chunk}, dfu.Options{Baud: benchBaud, Timeout: 200 * time.Millisecond}, 1)
	v2 := build(b, key(1), class, manifest.Version{Major: 2}, 2, size, false)
	pull := time.AfterFunc(time.Duration(size)*10*time.Second/benchBaud/2, r.emu.Unplug)
	defer pull.Stop()
	var acked int64
	_, err := r.client.Update(ctxFor(b, 5*time.Minute), v2.manifest, v2.image, func(p dfu.Progress) {
		if p.Phase == dfu.PhaseTransfer {
			acked = p.Done
		}
	})
	if err == nil {
		b.Fatal("the update went through a pulled cable")
	}
	r.emu.Plug()
	res, err := r.client.Update(ctxFor(b, 5*time.Minute), v2.manifest, v2.image, nil)
	if err != nil {
		b.Fatal(err)
	}
	inFlightEnd := min(acked+chunk, size)
	resent := 0
	for off := res.From; off < inFlightEnd; off += chunk {
		resent++
	}
	if pong, err := r.client.Ping(ctxFor(b, 5*time.Second)); err != nil || pong.Digest != v2.m.Digest {
		b.Fatalf("after the resumed update: %+v %v", pong, err)
	}
	benchfig.Report(b, "firmware_resume_resent_chunks", float64(resent), "chunks")
	benchfig.Report(b, "firmware_resume_from_kib", float64(res.From)/1024, "KiB")
}
