package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/ui"
)

// fakeCheckout records the amounts the API passes to the flow.
type fakeCheckout struct{ paid []int64 }

func (f *fakeCheckout) Pay(_ context.Context, amount int64, _ string) (*checkout.Payment, error) {
	f.paid = append(f.paid, amount)
	return &checkout.Payment{ID: "pay-1", Amount: amount, Status: checkout.StatusApproved}, nil
}
func (f *fakeCheckout) Get(context.Context, string) (*checkout.Payment, error)  { return nil, nil }
func (f *fakeCheckout) Recent(context.Context, int) ([]checkout.Payment, error) { return nil, nil }

// TestPayAmountInCurrencyDecimals: the API reads the cashier's amount in
// the till's currency: no decimals in JPY, three in BHD.
func TestPayAmountInCurrencyDecimals(t *testing.T) {
	for _, c := range []struct {
		currency, amount string
		want             int64 // 0: refused
		why              string
	}{
		{"JPY", "1234", 1234, ""},
		{"JPY", "12.34", 0, "JPY has no decimals"},
		{"BHD", "1.234", 1234, ""},
		{"BHD", "1.2345", 0, "at most 3 decimals"},
		{"CNY", "12.34", 1234, ""},
		{"CNY", "1.234", 0, "at most 2 decimals"},
	} {
		f := &fakeCheckout{}
		// The socket's handler: the route's logic without the session
		// (hostile_test.go tests the session).
		srv := httptest.NewServer((&ui.Server{Checkout: f, Currency: c.currency}).LocalHandler())
		res, err := http.Post(srv.URL+"/api/pay", "application/json", strings.NewReader(`{"amount":"`+c.amount+`","code":"134567890123456780"}`))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error string `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		srv.Close()
		switch {
		case c.want != 0 && (res.StatusCode != http.StatusOK || len(f.paid) != 1 || f.paid[0] != c.want):
			t.Errorf("%s %s: %d %q, paid %v; want %d", c.amount, c.currency, res.StatusCode, body.Error, f.paid, c.want)
		case c.want == 0 && (res.StatusCode != http.StatusBadRequest || len(f.paid) != 0 || !strings.Contains(body.Error, c.why)):
			t.Errorf("%s %s: %d %q, paid %v; want refused saying %q", c.amount, c.currency, res.StatusCode, body.Error, f.paid, c.why)
		}
	}
}
