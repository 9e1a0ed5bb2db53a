package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func open(t testing.TB) (*Vault, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vault")
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v, dir
}

func TestPutGetDelete(t *testing.T) {
	v, dir := open(t)
	secret := []byte(`{"surname":"DUPONT","id_number":"110101199003078515"}`)
	if err := v.Put("act-1", secret); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "act-1.gv"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("DUPONT")) || bytes.Contains(raw, []byte("110101199003078515")) {
		t.Fatal("plaintext in the blob file")
	}
	got, err := v.Get("act-1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get: %q %v", got, err)
	}
	// The same key file reopens the record.
	v2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v2.Get("act-1"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get after reopen: %q %v", got, err)
	}
	// A blob moved to another record's name does not open.
	if err := os.WriteFile(filepath.Join(dir, "act-2.gv"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get("act-2"); !errors.Is(err, ErrOpen) {
		t.Fatalf("moved blob: %v, want ErrOpen", err)
	}
	ids, err := v.IDs()
	if err != nil || len(ids) != 2 {
		t.Fatalf("IDs %v %v", ids, err)
	}
	if err := v.Delete("act-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get("act-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if err := v.Delete("act-1"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	// Another device's key does not open the blob.
	other, _ := open(t)
	if _, err := other.OpenBlob("act-1", raw); !errors.Is(err, ErrOpen) {
		t.Fatalf("other key: %v", err)
	}
	for _, id := range []string{"", "../x", "a/b", "..", string(make([]byte, MaxID+1))} {
		if err := v.Put(id, secret); !errors.Is(err, ErrID) {
			t.Errorf("Put(%q): %v, want ErrID", id, err)
		}
	}
	if err := v.Put("big", make([]byte, MaxData+1)); err == nil {
		t.Error("oversized data accepted")
	}
}

func TestKeyFileChecks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, KeyFile)
	if err := os.WriteFile(p, make([]byte, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("world-readable key file accepted")
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatalf("0600 key file: %v", err)
	}
	if err := os.WriteFile(p, make([]byte, 7), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("short key file accepted")
	}
}

func TestHostileBlobs(t *testing.T) {
	v, _ := open(t)
	good, err := v.Seal("rec", []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 10<<20)
	rand.Read(junk)
	big := append(append([]byte{'G', 'V', 1, 3}, "rec"...), make([]byte, MaxData+200)...)
	cases := map[string]struct {
		blob []byte
		want error
	}{
		"empty":       {nil, ErrBlob},
		"magic":       {[]byte("XX\x01\x03rec"), ErrBlob},
		"version":     {append([]byte("GV\x02"), good[3:]...), ErrBlob},
		"truncated":   {good[:len(good)-20], ErrBlob},
		"header only": {good[:7], ErrBlob},
		"id too long": {append([]byte("GV\x01\xff"), good[4:]...), ErrBlob},
		"bad id":      {append(append([]byte("GV\x01\x03"), "../"...), good[7:]...), ErrBlob},
		"10 MB junk":  {junk, ErrBlob},
		"oversized":   {big, ErrBlob},
		"other id":    {append(append([]byte("GV\x01\x03"), "rex"...), good[7:]...), ErrOpen},
	}
	for name, c := range cases {
		if _, err := v.OpenBlob("rec", c.blob); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// Every flipped byte is caught.
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		if _, err := v.OpenBlob("rec", b); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if d, err := v.OpenBlob("rec", good); err != nil || string(d) != "data" {
		t.Fatalf("good blob: %q %v", d, err)
	}
}

func FuzzOpenBlob(f *testing.F) {
	v, err := Open(filepath.Join(f.TempDir(), "v"))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := v.Seal("rec", []byte("data"))
	f.Add(good)
	f.Add([]byte("GV\x01\x03rec"))
	f.Add([]byte{})
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		bl, err := ParseBlob(b)
		if err != nil {
			if !errors.Is(err, ErrBlob) {
				t.Fatalf("parse error not ErrBlob: %v", err)
			}
			return
		}
		if !validID(bl.ID) {
			t.Fatalf("parsed bad id %q", bl.ID)
		}
		d, err := v.OpenBlob(bl.ID, b)
		if err == nil && !bytes.Equal(b, good) {
			t.Fatalf("forged blob opened: %q", d)
		}
	})
}
