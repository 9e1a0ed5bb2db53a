package pcsc

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/pcsctest"
	"github.com/guichet/guichet/eid/icao/vcard"
	"github.com/guichet/guichet/internal/benchfig"
)

func median(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds()) / 1000
}

// benchRead returns the median time of full reads of doc with access,
// through pcscd and vpcd with the driver, and with the card in-process.
func benchRead(b *testing.B, doc *vcard.Document, access cardreader.Access, wantAccess string) (viaPCSC, inproc float64) {
	const runs = 15
	d := pcsctest.Shared(b)
	remove := insert(b, d, 0, vcard.NewCard(doc, nil))
	defer remove()
	r := open(b, map[string]any{"reader": d.Reader(0), "csca": cscaFile(b), "card_wait": "10s"})
	ctx := context.Background()
	var pcsc, local []time.Duration
	for range runs {
		start := time.Now()
		c, err := r.ReadCard(ctx, access)
		if err != nil {
			b.Fatal(err)
		}
		if !c.Verified || len(c.Photo) < 20000 {
			b.Fatalf("verified %v, photo %d bytes", c.Verified, len(c.Photo))
		}
		pcsc = append(pcsc, time.Since(start))
	}
	pool := pa.NewPool(testIssuer(b).CSCA)
	for range runs {
		card := vcard.NewCard(doc, nil)
		t := apdu.TransmitFunc(func(_ context.Context, cmd []byte) ([]byte, error) { return card.Respond(cmd), nil })
		start := time.Now()
		dd, err := icao.ReadCard(ctx, t, access, icao.Options{CSCA: pool})
		if err != nil {
			b.Fatal(err)
		}
		if !dd.Card(time.Now()).Verified || dd.Access != wantAccess {
			b.Fatalf("in-process read: verified %v, access %q", dd.Verified, dd.Access)
		}
		local = append(local, time.Since(start))
	}
	return median(pcsc), median(local)
}

// BenchmarkCardRead times a full read of the virtual ePassport (BAC,
// EF.COM, DG1, a DG2 of 20 KB, EF.SOD, passive authentication against the
// CSCA): card_read_ms through pcscd and vpcd with the driver, next to its
// anchor card_read_inproc_ms, the same read with the card in-process.
func BenchmarkCardRead(b *testing.B) {
	doc := issue(b)
	for b.Loop() {
		viaPCSC, inproc := benchRead(b, doc, specimen, "BAC")
		benchfig.Report(b, "card_read_ms", viaPCSC, "ms")
		benchfig.Report(b, "card_read_inproc_ms", inproc, "ms")
	}
}

// BenchmarkCardReadPACE is BenchmarkCardRead with a chip that offers PACE
// (PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1) opened with the MRZ
// data, then read under AES secure messaging: card_read_ms_pace, and its
// in-process anchor card_read_inproc_ms_pace.
func BenchmarkCardReadPACE(b *testing.B) {
	doc := issue(b)
	if err := doc.EnablePACE("123456"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		viaPCSC, inproc := benchRead(b, doc, specimen, "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ")
		benchfig.Report(b, "card_read_ms_pace", viaPCSC, "ms")
		benchfig.Report(b, "card_read_inproc_ms_pace", inproc, "ms")
	}
}
