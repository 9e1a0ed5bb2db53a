package sam

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/firmware-bridge/frame"
	bridge "github.com/guichet/guichet/firmware-bridge/sam"
	"github.com/guichet/guichet/firmware-bridge/sam/samemu"
	"github.com/guichet/guichet/internal/benchfig"
)

// wireBytes is what one full read puts on the line: four 2-byte commands,
// and the replies to status (status word), find card (status word and 4
// bytes), select card (status word and 8 bytes) and read base information
// (status word, two lengths, text block and photo).
var wireBytes = 4*(frame.Overhead+2) +
	(frame.Overhead + 3) + (frame.Overhead + 3 + 4) + (frame.Overhead + 3 + 8) +
	(frame.Overhead + 3 + 4 + bridge.TextLen + bridge.PhotoLen)

// medianRead opens the driver on the emulator and returns the median time
// of n full reads (status, find, select, read base information).
func medianRead(b *testing.B, e *samemu.Emulator, n int) time.Duration {
	b.Helper()
	if err := e.SetCard(samemu.SampleText(), nil); err != nil {
		b.Fatal(err)
	}
	p, err := e.ServePTY(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	d, err := Open(ctx, Options{Port: p.Path})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	times := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		c, err := d.ReadCard(ctx, cardreader.Access{})
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		if c.IDNumber == "" {
			b.Fatal("empty card")
		}
	}
	slices.Sort(times)
	return times[n/2]
}

// BenchmarkSAMRead reports sam_read_ms, one full card read through the
// driver over a pseudo-terminal with the emulator paced to a 115200-baud
// UART, next to its anchor sam_wire_ms, the time the same bytes take on
// such a line, and sam_read_ms_unpaced, the same read without pacing (the
// cost of the driver, the pseudo-terminal and the emulator alone).
func BenchmarkSAMRead(b *testing.B) {
	const runs = 9
	paced := samemu.New()
	paced.SetBaud(115200)
	p := medianRead(b, paced, runs)
	u := medianRead(b, samemu.New(), runs)
	wire := time.Duration(wireBytes) * 10 * time.Second / 115200
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	benchfig.Report(b, "sam_read_ms", ms(p), "ms")
	benchfig.Report(b, "sam_wire_ms", ms(wire), "ms")
	benchfig.Report(b, "sam_read_ms_unpaced", ms(u), "ms")
}
