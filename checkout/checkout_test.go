package checkout

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

func newService(t testing.TB) (*Service, *outbox.Store) {
	_, k, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"), outbox.Identity{Tenant: "t", Device: "d", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	// The platform of these tests answers after Pay returned: the
	// offline limits are wide, so that Pay approves offline and the
	// answer then decides.
	return &Service{Store: ob, Currency: "CNY", WaitOnline: 50 * time.Millisecond,
		OfflinePerTransaction: MaxAmount, OfflineTotal: MaxAmount}, ob
}

func TestPaySilentPlatformOfflineThenApproved(t *testing.T) {
	s, ob := newService(t)
	ctx := context.Background()
	var changes []string
	s.OnChange = func(p Payment) { changes = append(changes, p.Status) }
	p, err := s.Pay(ctx, 1234, "134567890123456780\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != StatusApprovedOffline || !p.Offline || p.Scheme != "wechat_pay" || p.CodeTail != "6780" || p.Seq != 1 {
		t.Fatalf("payment %+v", p)
	}
	if ob.Stats().Depth != 1 {
		t.Fatal("payment not in the outbox")
	}
	ents, _ := ob.Pending(ctx, 0, 10)
	rec, err := envelope.DecodeRecord(mustPayload(t, ents[0].Frame))
	if err != nil || rec.Key != p.ID || rec.Type != RecordPaymentAuth {
		t.Fatalf("record %+v %v", rec, err)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusApproved})
	got, err := s.Get(ctx, p.ID)
	if err != nil || got.Status != StatusApproved {
		t.Fatalf("after result: %+v %v", got, err)
	}
	// The same answer again (a lost ack) changes nothing.
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusApproved})
	if strings.Join(changes, ",") != "queued,approved_offline,approved" {
		t.Fatalf("changes %v", changes)
	}
	recent, err := s.Recent(ctx, 5)
	if err != nil || len(recent) != 1 || recent[0].ID != p.ID {
		t.Fatalf("recent %+v %v", recent, err)
	}
}

func TestPayAnsweredWhileWaiting(t *testing.T) {
	s, _ := newService(t)
	s.WaitOnline = 5 * time.Second
	s.OnChange = func(p Payment) {
		if p.Status == StatusQueued {
			go s.OnResult(envelope.Result{Seq: p.Seq, Key: p.ID, Status: StatusDeclined, Reason: "blocked"})
		}
	}
	p, err := s.Pay(context.Background(), 100, "134567890123456780")
	if err != nil || p.Status != StatusDeclined || p.Reason != "blocked" {
		t.Fatalf("payment %+v %v", p, err)
	}
}

func TestBadCodesStoreNothing(t *testing.T) {
	s, ob := newService(t)
	for _, code := range []string{"", "12345", "994567890123456780", strings.Repeat("1", 10<<20), "\x00\xff"} {
		if _, err := s.Pay(context.Background(), 100, code); !errors.Is(err, ErrInput) {
			t.Errorf("code %.20q: %v, want ErrInput", code, err)
		}
	}
	if _, err := s.Pay(context.Background(), 0, "134567890123456780"); !errors.Is(err, ErrInput) {
		t.Error("zero amount accepted")
	}
	if ob.Stats().LastSeq != 0 {
		t.Fatal("bad input stored a record")
	}
}

func mustPayload(t *testing.T, frame []byte) []byte {
	p, _, err := envelope.Split(frame)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
