package credential

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/guichet/guichet/eid/credential/cose"
)

func TestTrustKeepsListsAcrossRestarts(t *testing.T) {
	p := newPlatform(t, Options{})
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	pemRoot, err := MarshalPublicKeyPEM(p.root.Public())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(root, pemRoot, 0o644)
	keySet, revs := filepath.Join(dir, "eid", "keyset.cose"), filepath.Join(dir, "eid", "revocations.cose")
	quiet := slog.New(slog.DiscardHandler)
	text := p.issue(t, cose.ES256, typical())

	// First start: no list kept yet, nothing verifies.
	tr, err := OpenTrust(root, keySet, revs, Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.v.Verify(text, t0); err == nil {
		t.Fatal("verified with no key set")
	}
	args, _ := json.Marshal(Lists{KeySet: p.keySet})
	if err := tr.ApplyLists(args); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.v.Verify(text, t0); err != nil {
		t.Fatalf("after eid_lists: %v", err)
	}
	if fi, err := os.Stat(keySet); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept key set %v %v", fi, err)
	}

	// A list signed by another root is refused and the kept one stays.
	other := newPlatform(t, Options{})
	bad, _ := json.Marshal(Lists{KeySet: other.keySet})
	if err := tr.ApplyLists(bad); err == nil {
		t.Fatal("key set of another root accepted")
	}
	if b, _ := os.ReadFile(keySet); !bytes.Equal(b, p.keySet) {
		t.Fatal("refused key set replaced the kept one")
	}
	// A config without "eid", or unreadable, is not the trust's to refuse.
	for _, c := range []string{`{"offline_limits":{"total":1}}`, `not json`} {
		if err := tr.ApplyConfig([]byte(c)); err != nil {
			t.Fatalf("config %s: %v", c, err)
		}
	}
	if err := tr.ApplyLists([]byte(`not json`)); err == nil {
		t.Fatal("unreadable eid_lists accepted")
	}

	// Restart: the kept list is loaded.
	tr2, err := OpenTrust(root, keySet, revs, Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr2.v.Verify(text, t0); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// A kept list that no longer checks (a new root) is left for the next
	// sync: the trust still opens.
	os.WriteFile(keySet, other.keySet, 0o600)
	if _, err := OpenTrust(root, keySet, revs, Options{}, quiet); err != nil {
		t.Fatalf("open with a stale kept list: %v", err)
	}
	// A missing root key stops the start.
	if _, err := OpenTrust(filepath.Join(dir, "none.pem"), keySet, revs, Options{}, quiet); err == nil {
		t.Fatal("opened without a root key")
	}
}
