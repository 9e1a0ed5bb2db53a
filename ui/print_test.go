package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/ui"
)

type fakeReceipts struct{ printed []string }

func (f *fakeReceipts) Print(_ context.Context, id string) error {
	if id != "pay-1" {
		return checkout.ErrNotFound
	}
	f.printed = append(f.printed, id)
	return nil
}

func TestPrintRoute(t *testing.T) {
	rc := &fakeReceipts{}
	// The socket's handler: the route without the session
	// (hostile_test.go tests the session).
	srv := httptest.NewServer((&ui.Server{Receipts: rc}).LocalHandler())
	defer srv.Close()
	for _, c := range []struct {
		method, id string
		want       int
	}{
		{"POST", "pay-1", http.StatusOK},
		{"POST", "pay-2", http.StatusNotFound},
		{"GET", "pay-1", http.StatusNotFound}, // only POST prints; GET falls to the static files
	} {
		req, _ := http.NewRequest(c.method, srv.URL+"/api/payments/"+c.id+"/print", nil)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.id, res.StatusCode, c.want)
		}
	}
	if len(rc.printed) != 1 {
		t.Fatalf("printed %v", rc.printed)
	}
	// Without a printer the route is not there.
	bare := httptest.NewServer((&ui.Server{}).Handler())
	defer bare.Close()
	res, err := http.Post(bare.URL+"/api/payments/pay-1/print", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Fatal("printed without a printer")
	}
}
