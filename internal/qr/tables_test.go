package qr

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/makiuchi-d/gozxing/common/reedsolomon"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// TestTablesMatchZXing checks the tables typed from ISO/IEC 18004 (level
// M's blocks, the alignment pattern centres) against ZXing's, and that
// each version's codewords fill its symbol: the modules left after the
// function patterns are the codewords' bits plus 0 to 7 remainder bits.
func TestTablesMatchZXing(t *testing.T) {
	for v := 1; v <= 40; v++ {
		zv, err := decoder.Version_GetVersionForNumber(v)
		if err != nil {
			t.Fatal(err)
		}
		b := blocksM[v-1]
		zb := zv.GetECBlocksForLevel(decoder.ErrorCorrectionLevel_M)
		var groups [][2]int
		for _, g := range zb.GetECBlocks() {
			groups = append(groups, [2]int{g.GetCount(), g.GetDataCodewords()})
		}
		want := [][2]int{{b.n1, b.d1}}
		if b.n2 > 0 {
			want = append(want, [2]int{b.n2, b.d1 + 1})
		}
		if b.ec != zb.GetECCodewordsPerBlock() || !slices.Equal(groups, want) {
			t.Errorf("version %d: blocks %+v, ZXing has %d EC codewords a block and %v", v, b, zb.GetECCodewordsPerBlock(), groups)
		}
		if a := alignments[v]; !slices.Equal(a, zv.GetAlignmentPatternCenters()) && !(v == 1 && len(a) == 0) {
			t.Errorf("version %d: alignment centres %v, ZXing has %v", v, a, zv.GetAlignmentPatternCenters())
		}
		total := b.dataCodewords() + (b.n1+b.n2)*b.ec
		free := 0
		for _, f := range newSymbol(v).fn {
			if !f {
				free++
			}
		}
		if r := free - 8*total; total != zv.GetTotalCodewords() || r < 0 || r > 7 {
			t.Errorf("version %d: %d codewords in %d data modules, ZXing has %d codewords", v, total, free, zv.GetTotalCodewords())
		}
	}
}

// TestECCMatchesZXing compares the error correction codewords with ZXing's
// Reed–Solomon encoder for every block size of level M.
func TestECCMatchesZXing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	enc := reedsolomon.NewReedSolomonEncoder(reedsolomon.GenericGF_QR_CODE_FIELD_256)
	for _, b := range blocksM {
		for _, d := range []int{b.d1, b.d1 + 1} {
			data := make([]byte, d)
			for i := range data {
				data[i] = byte(rng.IntN(256))
			}
			buf := make([]int, d+b.ec)
			for i, c := range data {
				buf[i] = int(c)
			}
			if err := enc.Encode(buf, b.ec); err != nil {
				t.Fatal(err)
			}
			got := ecc(data, generators[b.ec])
			for i, c := range got {
				if int(c) != buf[d+i] {
					t.Fatalf("%d data, %d EC codewords: %x, ZXing %v", d, b.ec, got, buf[d:])
				}
			}
		}
	}
}
