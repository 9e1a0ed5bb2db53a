package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/icao/pcsctest"
	"github.com/guichet/guichet/eid/icao/vcard"
)

// TestCardRead reads the virtual ePassport through a private pcscd. It is
// the only PC/SC test of this binary, so it stops the daemon when done.
func TestCardRead(t *testing.T) {
	d := pcsctest.Shared(t)
	t.Cleanup(pcsctest.StopShared)
	iss, err := vcard.NewIssuer("UT")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := vcard.Issue(vcard.Specimen, vcard.DemoPhoto, iss)
	if err != nil {
		t.Fatal(err)
	}
	// The chip offers PACE (MRZ or CAN) and BAC, as a recent passport does.
	if err := doc.EnablePACE("123456"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vcard.Serve(ctx, d.VPCD(0), vcard.NewCard(doc, nil)) }()
	t.Cleanup(func() { cancel(); <-done })

	dir := t.TempDir()
	csca := filepath.Join(dir, "csca.pem")
	os.WriteFile(csca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.CSCA.Raw}), 0o644)
	photo := filepath.Join(dir, "face.jpg")

	var out, errb bytes.Buffer
	rc := run([]string{"card", "read", "--reader", d.Reader(0), "--mrz", "L898902C3,740812,340415", "--photo", photo, "--csca", csca}, &out, &errb)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got["kind"] != "icao9303" || got["surname"] != "ERIKSSON" || got["birth_date"] != "1974-08-12" || got["verified"] != true || got["photo_format"] != "jpeg" {
		t.Errorf("fields: %v", got)
	}
	b, err := os.ReadFile(photo)
	if err != nil || !bytes.Equal(b, vcard.DemoPhoto) {
		t.Errorf("photo file: %d bytes, %v", len(b), err)
	}
	if st, err := os.Stat(photo); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("photo file mode: %v", st.Mode())
	}

	// The MRZ line works too; without a CSCA the card is not verified.
	out.Reset()
	z, err := vcard.Specimen.MRZ()
	if err != nil {
		t.Fatal(err)
	}
	rc = run([]string{"card", "read", "--reader", d.Reader(0), "--mrz-line", z[44:]}, &out, &errb)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	if !strings.Contains(out.String(), `"verified": false`) {
		t.Errorf("verified without CSCA:\n%s", out.String())
	}

	// The card access number alone opens the chip over PACE.
	out.Reset()
	rc = run([]string{"card", "read", "--reader", d.Reader(0), "--can", "123456"}, &out, &errb)
	if rc != 0 || !strings.Contains(out.String(), `"surname": "ERIKSSON"`) {
		t.Fatalf("read with the CAN: exit %d: %s %s", rc, out.String(), errb.String())
	}

	for _, c := range []struct {
		name string
		args []string
		rc   int
		want string
	}{
		{"wrong MRZ", []string{"card", "read", "--reader", d.Reader(0), "--mrz", "L898902C3,740812,340416"}, 1, "wrong MRZ"},
		{"empty slot", []string{"card", "read", "--reader", d.Reader(1), "--mrz", "L898902C3,740812,340415", "--wait", "200ms"}, 1, "no card"},
		{"no such reader", []string{"card", "read", "--reader", "Acme", "--mrz", "L898902C3,740812,340415"}, 1, "no such card reader"},
		{"wrong CAN", []string{"card", "read", "--reader", d.Reader(0), "--can", "654321"}, 1, "CAN"},
		{"bad CAN", []string{"card", "read", "--can", "12ab56"}, 2, "6 to 10 digits"},
		{"bad mrz", []string{"card", "read", "--mrz", "L898902C3,74,340415"}, 2, "YYMMDD"},
		{"both mrz", []string{"card", "read", "--mrz", "A,740812,340415", "--mrz-line", "x"}, 2, "not both"},
		{"no verb", []string{"card"}, 2, "card read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if rc := run(c.args, &out, &errb); rc != c.rc || !strings.Contains(errb.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", rc, errb.String(), c.rc, c.want)
			}
		})
	}
}
