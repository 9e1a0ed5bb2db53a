package pin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestHash(t *testing.T) {
	h, err := New("482913", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Match("482913"); !ok || err != nil {
		t.Errorf("right PIN: %v %v", ok, err)
	}
	for _, bad := range []string{"482914", "", "4829130", " 482913"} {
		if ok, err := h.Match(bad); ok || err != nil {
			t.Errorf("PIN %q matched: %v %v", bad, ok, err)
		}
	}
	h2, _ := New("482913", 1000)
	if bytes.Equal(h.Salt, h2.Salt) || bytes.Equal(h.Key, h2.Key) {
		t.Error("two hashes of one PIN share their salt or key")
	}
	for _, it := range []int{0, -1, MaxIterations + 1} {
		if _, err := (Hash{Salt: h.Salt, Key: h.Key, Iterations: it}).Match("482913"); err == nil {
			t.Errorf("iterations %d: no error", it)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		pin string
		ok  bool
	}{{"12345", false}, {"123456", true}, {"密码密码密码", true}, {strings.Repeat("1", 64), true}, {strings.Repeat("1", 65), false}, {strings.Repeat("密", 22), false}} {
		if err := Check(c.pin); (err == nil) != c.ok || err != nil && !errors.Is(err, ErrWeak) {
			t.Errorf("Check(%q) = %v", c.pin, err)
		}
	}
	if _, err := New("1", 1); !errors.Is(err, ErrWeak) {
		t.Errorf("New of a short PIN: %v", err)
	}
}
