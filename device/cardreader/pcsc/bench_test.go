package pcsc

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/pcsctest"
	"github.com/guichet/guichet/eid/icao/vcard"
	"github.com/guichet/guichet/internal/benchfig"
)

func median(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds()) / 1000
}

// BenchmarkCardRead times a full read of the virtual ePassport (BAC,
// EF.COM, DG1, a DG2 of 20 KB, EF.SOD, passive authentication against the
// CSCA): card_read_ms through pcscd and vpcd with the driver, next to its
// anchor card_read_inproc_ms, the same read with the card in-process.
func BenchmarkCardRead(b *testing.B) {
	const runs = 15
	d := pcsctest.Shared(b)
	doc := issue(b)
	insert(b, d, 0, vcard.NewCard(doc, nil))
	r := open(b, map[string]any{"reader": d.Reader(0), "csca": cscaFile(b), "card_wait": "10s"})
	ctx := context.Background()
	for b.Loop() {
		var viaPCSC, inproc []time.Duration
		for range runs {
			start := time.Now()
			c, err := r.ReadCard(ctx, specimen)
			if err != nil {
				b.Fatal(err)
			}
			if !c.Verified || len(c.Photo) < 20000 {
				b.Fatalf("verified %v, photo %d bytes", c.Verified, len(c.Photo))
			}
			viaPCSC = append(viaPCSC, time.Since(start))
		}
		keys, _ := bac.KeysFromMRZ(specimen.DocumentNumber, specimen.BirthDate, specimen.ExpiryDate)
		pool := pa.NewPool(testIssuer(b).CSCA)
		for range runs {
			card := vcard.NewCard(doc, nil)
			t := apdu.TransmitFunc(func(_ context.Context, cmd []byte) ([]byte, error) { return card.Respond(cmd), nil })
			start := time.Now()
			dd, err := icao.Read(ctx, t, keys, icao.Options{CSCA: pool})
			if err != nil {
				b.Fatal(err)
			}
			if !dd.Card(time.Now()).Verified {
				b.Fatal("in-process read not verified")
			}
			inproc = append(inproc, time.Since(start))
		}
		benchfig.Report(b, "card_read_ms", median(viaPCSC), "ms")
		benchfig.Report(b, "card_read_inproc_ms", median(inproc), "ms")
	}
}
