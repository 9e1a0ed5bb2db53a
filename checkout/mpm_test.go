package checkout

import (
	"errors"
	"testing"

	"github.com/guichet/guichet/checkout/emv"
)

func TestMerchantQR(t *testing.T) {
	m := Merchant{Name: "GUICHET DEMO SHOP", City: "GUANGZHOU", MCC: "5411", Country: "CN", AccountGUI: "com.example.guichet", AccountID: "shop-1"}
	s, err := MerchantQR(m, "CNY", 1234, "ord-42")
	if err != nil {
		t.Fatal(err)
	}
	p, err := emv.Parse(s)
	if err != nil {
		t.Fatalf("own payload does not parse: %v", err)
	}
	if p.Initiation != "12" || p.Amount != "12.34" || p.Currency != "156" || p.Additional == nil || p.Additional.ReferenceLabel != "ord-42" || p.Accounts[0].GUI != "com.example.guichet" {
		t.Fatalf("payload %+v", p)
	}
	static, err := MerchantQR(m, "CNY", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := emv.Parse(static); p.Initiation != "11" || p.Amount != "" {
		t.Fatalf("static payload %+v", p)
	}
	// The amount is written in the currency's decimals.
	for code, want := range map[string]string{"JPY": "1234", "BHD": "1.234", "EUR": "12.34"} {
		s, err := MerchantQR(m, code, 1234, "ord-43")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := emv.Parse(s); err != nil || p.Amount != want {
			t.Errorf("MerchantQR(%s, 1234): amount %q, %v; want %q", code, p.Amount, err, want)
		}
	}
	if _, err := MerchantQR(m, "XXX", 100, ""); !errors.Is(err, ErrInput) {
		t.Fatalf("unknown currency: %v", err)
	}
	m.MCC = "54"
	if _, err := MerchantQR(m, "CNY", 100, ""); err == nil {
		t.Fatal("bad MCC accepted")
	}
}
