package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/sync/outbox"
)

func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	_, k, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, outbox.Identity{Tenant: "t1", Device: "d1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := audit.Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"signin", "begin", "card_read"} {
		if _, err := l.Append(ctx, audit.Entry{Official: "off-1", Step: step, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"audit", "--db", path}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	var rep AuditReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.OK || rep.Entries != 3 {
		t.Fatalf("report %+v %v: %s", rep, err, out.String())
	}
	// A removed entry: exit 1 and the place of the break.
	if err := s.Update(ctx, func(tx *sql.Tx) error { _, err := tx.Exec(`DELETE FROM audit WHERE seq = 2`); return err }); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if rc := run([]string{"audit", "--db", path}, &out, &errb); rc != 1 {
		t.Fatalf("broken log: exit %d", rc)
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.OK || rep.BrokenAt != 2 {
		t.Fatalf("report %+v %v", rep, err)
	}
	if rc := run([]string{"audit", "--db", filepath.Join(t.TempDir(), "none.db")}, &out, &errb); rc != 1 {
		t.Fatalf("missing file: exit %d", rc)
	}
	if rc := run([]string{"audit", "extra"}, &out, &errb); rc != 2 {
		t.Fatalf("stray argument: exit %d", rc)
	}
}
