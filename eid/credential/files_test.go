package credential

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/credential/cose"
)

func TestLoadVerifier(t *testing.T) {
	p := newPlatform(t, Options{})
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	keys := filepath.Join(dir, "keyset.cose")
	big := filepath.Join(dir, "big.cose")
	pemRoot, err := MarshalPublicKeyPEM(p.root.Public())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(root, pemRoot, 0o644)
	os.WriteFile(keys, p.keySet, 0o644)
	f, _ := os.Create(big)
	f.Truncate(MaxListSize + 1) // sparse: costs no disk
	f.Close()

	v, err := LoadVerifier(root, keys, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(p.issue(t, cose.EdDSA, typical()), t0); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][3]string{
		"missing root":        {filepath.Join(dir, "none"), keys, ""},
		"root is a key set":   {keys, keys, ""},
		"missing key set":     {root, filepath.Join(dir, "none"), ""},
		"oversized key set":   {root, big, ""},
		"oversized list":      {root, keys, big},
		"key set as list":     {root, keys, keys},
		"missing revocations": {root, keys, filepath.Join(dir, "none")},
	} {
		if _, err := LoadVerifier(args[0], args[1], args[2], Options{}); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestVerdict(t *testing.T) {
	p := newPlatform(t, Options{})
	stranger := &Issuer{Signer: mustKey(t, cose.ES256), Name: "x", Now: func() time.Time { return t0 }}
	code, err := stranger.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(NewVerdict(p.v.Verify(code, t0)))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`"valid":false`, `"reason":"unknown_kid"`, `"level":""`, `"expires":""`, `"kid":"`} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict %s lacks %s", got, want)
		}
	}
	b, _ = json.Marshal(NewVerdict(p.v.Verify(p.issue(t, cose.ES256, typical()), t0)))
	got = string(b)
	for _, want := range []string{`"valid":true`, `"reason":""`, `"level":"full"`, `"expires":"2025-03-15T08:30:00Z"`} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict %s lacks %s", got, want)
		}
	}
	if strings.Contains(got, "ZHANG") {
		t.Errorf("verdict %s holds the name", got)
	}
}
