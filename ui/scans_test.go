package ui_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/ui"
)

type scanAnswer struct {
	N    uint64           `json:"n"`
	Code *codereader.Code `json:"code"`
}

func getScans(t *testing.T, url string, wantStatus int) scanAnswer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d", url, resp.StatusCode, wantStatus)
	}
	var a scanAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return a
}

// TestScansAPI checks GET /api/scans: a page starts from the current
// number without the last code, then long-polls for the next ones.
func TestScansAPI(t *testing.T) {
	scans := ui.NewScans()
	// The socket's handler: the feed without the session (hostile_test.go
	// checks that the browser's needs one).
	srv := httptest.NewServer((&ui.Server{Scans: scans}).LocalHandler())
	defer srv.Close()

	if a := getScans(t, srv.URL+"/api/scans", http.StatusOK); a.N != 0 || a.Code != nil {
		t.Fatalf("no scan yet: got %+v", a)
	}
	scans.Add(codereader.Code{Format: "QR_CODE", Text: "134567890123456780", At: time.Now()})
	// A page loading now must not get the code already read.
	if a := getScans(t, srv.URL+"/api/scans", http.StatusOK); a.N != 1 || a.Code != nil {
		t.Fatalf("peek after one scan: got %+v, want n=1 and no code", a)
	}
	if a := getScans(t, srv.URL+"/api/scans?after=0", http.StatusOK); a.N != 1 || a.Code == nil || a.Code.Text != "134567890123456780" {
		t.Fatalf("after=0: got %+v", a)
	}
	// A long poll returns with the next code.
	go func() {
		time.Sleep(100 * time.Millisecond)
		scans.Add(codereader.Code{Format: "CODE_128", Text: "104567890123456789", At: time.Now()})
	}()
	if a := getScans(t, srv.URL+"/api/scans?after=1", http.StatusOK); a.N != 2 || a.Code == nil || a.Code.Text != "104567890123456789" {
		t.Fatalf("long poll: got %+v", a)
	}
	for _, bad := range []string{"-1", "abc", "1e3", "99999999999999999999999", ""} {
		getScans(t, srv.URL+"/api/scans?after="+bad, http.StatusBadRequest)
	}
	if scans.Count() != 2 {
		t.Fatalf("Count %d, want 2", scans.Count())
	}
}
