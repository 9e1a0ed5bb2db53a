package daemon

import (
	"testing"

	"github.com/guichet/guichet/checkout"
)

// TestQRScreen: the customer sees the code while it can be paid, then
// its end as a status key the page translates, never the code again.
func TestQRScreen(t *testing.T) {
	o := checkout.QROrder{Ref: "Q1", Amount: 1234, Currency: "CNY", Payload: "000201...", Status: checkout.QROpen}
	if s, ok := QRScreen(o); !ok || s.QR != o.Payload || s.Status != "qr_open" || len(s.Lines) != 1 || s.Lines[0] != "12.34 CNY" {
		t.Fatalf("open: %+v %v", s, ok)
	}
	o.Status = checkout.QRSent
	if _, ok := QRScreen(o); ok {
		t.Fatal("sent changes the customer's screen")
	}
	for _, st := range []string{checkout.QRPaid, checkout.QRExpired, checkout.QRCancelled} {
		o.Status = st
		if s, ok := QRScreen(o); !ok || s.QR != "" || s.Status != "qr_"+st || s.Lines[0] != "12.34 CNY" {
			t.Fatalf("%s: %+v %v", st, s, ok)
		}
	}
}
