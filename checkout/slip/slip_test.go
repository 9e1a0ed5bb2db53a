package slip

import (
	"context"
	"crypto/ed25519"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/printer/escpos"
	printersim "github.com/guichet/guichet/device/printer/sim"
	"github.com/guichet/guichet/internal/escposemu"
	"github.com/guichet/guichet/sync/outbox"
)

var writeScreens = flag.Bool("screens", false, "write the printed receipts to docs/screens")

func sampleReceipt() *checkout.Receipt {
	return &checkout.Receipt{Merchant: "ignored when the letterhead names the shop", PaymentID: "pay-0193f2c1a8e00-3b9d2f41c7a0",
		Order: "T-0042", Time: time.Date(2026, 12, 5, 12, 30, 5, 0, time.Local), Scheme: "wallet",
		Code: "**************6780", Currency: "CNY", Original: 3600, Discount: 360, Promo: "会员九折",
		Amount: 3240, Status: checkout.StatusApproved}
}

// TestPrintedReceipt prints receipts in Chinese and French through the
// ESC/POS driver to the emulator on a pseudo-terminal, and reads them
// back from the slip: the shop, its address, the amounts in the
// currency's minor units, the promotion, the masked code and the QR code
// of the payment, decoded from the rendered image.
func TestPrintedReceipt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := escposemu.New()
	pt, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	p, err := escpos.Open(ctx, escpos.Options{Port: pt.Path, Columns: 48})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, c := range []struct {
		file string
		head Letterhead
		r    *checkout.Receipt
		want []string
	}{
		{"receipt-zh.png", Letterhead{Name: "老王面馆", Address: []string{"北京市东城区东四北大街 107 号", "电话 010-6400 1234"}, Lang: "zh"}, sampleReceipt(), []string{
			"老王面馆", "北京市东城区东四北大街 107 号", "电话 010-6400 1234", "",
			time.Date(2026, 12, 5, 12, 30, 5, 0, time.Local).Format("2006-01-02 15:04:05"),
			"交易号 pay-0193f2c1a8e00-3b9d2f41c7a0", "订单 T-0042",
			"支付方式                                  wallet",
			"付款码                        **************6780",
			"金额                                       36.00",
			"会员九折                                   -3.60",
			"合计 CNY           32.40",
			"已批准", "[QR pay-0193f2c1a8e00-3b9d2f41c7a0]", "", "谢谢惠顾",
		}},
		{"receipt-fr.png", Letterhead{Name: "Boulangerie Aubépine", Address: []string{"12 rue des Lilas", "75011 Paris"}, Lang: "fr"}, func() *checkout.Receipt {
			r := sampleReceipt()
			r.Currency, r.Original, r.Discount, r.Amount, r.Promo = "EUR", 1250, 125, 1125, "Fidélité -10 %"
			r.Status, r.Offline, r.Code = checkout.StatusApprovedOffline, true, "************1234"
			return r
		}(), []string{
			"Boulangerie Aubépine", "12 rue des Lilas", "75011 Paris", "",
			time.Date(2026, 12, 5, 12, 30, 5, 0, time.Local).Format("2006-01-02 15:04:05"),
			"Paiement pay-0193f2c1a8e00-3b9d2f41c7a0", "Commande T-0042",
			"Réseau                                   wallet",
			"Code                            ************1234",
			"Montant                                    12.50",
			"Fidélité -10 %                           -1.25",
			"TOTAL EUR          11.25",
			"accepté (hors ligne)", "[QR pay-0193f2c1a8e00-3b9d2f41c7a0]", "", "Merci de votre visite",
		}},
	} {
		if err := p.Print(ctx, Document(c.r, c.head)); err != nil {
			t.Fatal(err)
		}
		s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == i+1 })
		if err != nil {
			t.Fatal(err)
		}
		slip := s.Slips[i]
		if got := slip.Lines(); !slices.Equal(got, c.want) {
			t.Errorf("%s printed\n%q\nwant\n%q", c.file, got, c.want)
		}
		img, err := escposemu.Render(slip, escposemu.Dots80)
		if err != nil {
			t.Fatal(err)
		}
		bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
		if err != nil || res.GetText() != c.r.PaymentID {
			t.Fatalf("%s: QR on paper %v, %v", c.file, res, err)
		}
		if *writeScreens {
			f, err := os.Create(filepath.Join("..", "..", "docs", "screens", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestReceiptDocumentBlanksControls(t *testing.T) {
	r := sampleReceipt()
	r.Promo = "evil\x1bp\x00\x19\xfa"
	d := Document(r, Letterhead{Name: "Shop\x1dV\x00", Address: []string{"\xff\x10\x04\x01"}})
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Lines[0].Text != "Shop V " {
		t.Fatalf("name %q", d.Lines[0].Text)
	}
}

func TestSlipsPrintsAPayment(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	p, err := s.Pay(ctx, 1234, "134567890123456780\n")
	if err != nil {
		t.Fatal(err)
	}
	sp := printersim.New(printersim.Options{Columns: 32})
	sl := &Slips{Service: s, Printer: sp, Head: Letterhead{Name: "小店", Lang: "zh"}}
	if err := sl.Print(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	got := sp.Last()
	for _, want := range []string{"小店", "付款码        **************6780", "合计 CNY   12.34", "已批准（离线）", "[QR " + p.ID + "]"} {
		if !strings.Contains(got, want) {
			t.Errorf("slip\n%s\nlacks %q", got, want)
		}
	}
	if err := sl.Print(ctx, "pay-none"); err == nil {
		t.Fatal("printed an unknown payment")
	}
}

func newService(t testing.TB) *checkout.Service {
	_, k, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"), outbox.Identity{Tenant: "t", Device: "d", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	// No platform answers: within these limits Pay approves offline.
	return &checkout.Service{Store: ob, Currency: "CNY", WaitOnline: 50 * time.Millisecond,
		OfflinePerTransaction: 5000, OfflineTotal: 5000}
}
