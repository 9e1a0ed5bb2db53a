//go:build release1gen

package outbox_test

// This file wrote testdata/release-1.db with the code of the release whose
// store kept the flows' data in the key-value ledger (commit d9b7208, before
// the store had tables). It compiles only against that code, so it carries a
// build tag; to write the file again, check that commit out and run
//
//	go test -tags release1gen -run TestWriteRelease1 ./sync/outbox/
//
// TestMigrateRelease1 opens a copy of the file with the current code.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

type genLink struct{ online bool }

func (l *genLink) Online() bool { return l.online }

func TestWriteRelease1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	ob, err := outbox.Open(path, release1Identity())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	link := &genLink{online: true}
	s := &checkout.Service{Store: ob, Currency: "CNY", WaitOnline: time.Millisecond, Now: clock, Link: link,
		OfflinePerTransaction: 5000, OfflineTotal: 20000}
	pay := func(amount int64, code string) *checkout.Payment {
		t.Helper()
		p, err := s.Pay(ctx, amount, code)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		return p
	}
	answer := func(key, status string) {
		s.OnResult(envelope.Result{Key: key, Status: status})
	}
	const wx = "134567890123456780"
	const ali = "281234567890123456"
	// Day 1 (2026-11-23): approved, declined, refunded, then closed.
	a1 := pay(1234, wx)
	answer(a1.ID, checkout.StatusApproved)
	d1 := pay(500, ali)
	answer(d1.ID, checkout.StatusDeclined)
	r1 := pay(3000, wx)
	answer(r1.ID, checkout.StatusApproved)
	if _, err := s.Refund(ctx, r1.ID, 1000); err != nil {
		t.Fatal(err)
	}
	answer(r1.ID+":refund:1", checkout.ResultRefunded)
	if _, err := s.CloseDay(ctx); err != nil {
		t.Fatal(err)
	}
	// Day 2 (2026-11-24): settings, promotions, a void, a split bill,
	// one waiting for the customer, one approved offline, one queued.
	now = now.Add(24 * time.Hour)
	for _, c := range []envelope.Command{
		{ID: "c1", Name: checkout.CommandOfflineLimits, Args: json.RawMessage(`{"per_transaction":8000,"total":30000}`)},
		{ID: "c2", Name: checkout.CommandPromotions, Args: json.RawMessage(`{"promotions":[{"id":"wx-nov","scheme":"wechat_pay","percent_off":10,"max_off":2000,"from":"2026-11-01T00:00:00Z","until":"2026-12-01T00:00:00Z","label":"WeChat Pay -10%"}]}`)},
	} {
		if err := s.ApplyCommand(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	promo := pay(10000, wx) // 10% off
	answer(promo.ID, checkout.StatusApproved)
	v1 := pay(700, ali)
	answer(v1.ID, checkout.StatusApproved)
	if _, err := s.Void(ctx, v1.ID); err != nil {
		t.Fatal(err)
	}
	o, err := s.NewOrder(ctx, 9000)
	if err != nil {
		t.Fatal(err)
	}
	part1, err := s.PayPart(ctx, o.ID, 4000, wx)
	if err != nil {
		t.Fatal(err)
	}
	answer(part1.ID, checkout.StatusApproved)
	if _, err := s.PayPart(ctx, o.ID, 2000, ali); err != nil { // left queued
		t.Fatal(err)
	}
	up := pay(800, ali)
	answer(up.ID, checkout.StatusUserPaying)
	link.online = false
	pay(2500, ali) // approved offline
	link.online = true
	pay(900, wx) // queued

	// The e-ID counter: two officials, one with a wrong PIN counted.
	offs := &counter.Officials{Store: ob, Iterations: 1000, LockAfter: 5}
	for _, id := range []string{"off-7", "off-8"} {
		if err := offs.SetPIN(ctx, id, "482913"); err != nil {
			t.Fatal(err)
		}
	}
	if err := offs.Check(ctx, "off-8", "000000"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	log, err := audit.Open(ctx, ob, clock)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"signin", "begin", "card_read", "liveness", "match", "confirm", "begin", "card_read", "confirm"} {
		if _, err := log.Append(ctx, audit.Entry{Official: "off-7", Step: step, Outcome: "ok", Activation: "a0102"}); err != nil {
			t.Fatal(err)
		}
	}
	// Activations as counter.Confirm stores them (record and ledger entry
	// in one commit); the first then answered as counter.OnResult does.
	for i, id := range []string{"a0102", "a0304"} {
		st, _ := json.Marshal(counter.Stored{Activation: id, Subject: "s00" + id, Official: "off-7", Status: counter.StepQueued, At: now.UnixMilli()})
		body, _ := json.Marshal(counter.Body{Activation: id, Subject: "s00" + id, Document: "eid", Verified: true, Level: counter.LevelFull,
			Official: "off-7", Score: 0.8 + float64(i)/100, Threshold: 0.5, Matcher: "lbp", Liveness: "passed", Challenge: "turn_left", At: now.UnixMilli()})
		e, err := ob.Append(ctx, outbox.Record{Key: counter.KeyPrefix + id, Type: counter.RecordType, Body: body,
			Puts: []outbox.Put{{Bucket: counter.ActivationBucket, Key: id, Value: st}}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			st, _ := json.Marshal(counter.Stored{Activation: id, Subject: "s00" + id, Official: "off-7", Status: counter.StepActivated, Seq: e.Seq, At: now.UnixMilli()})
			if err := ob.Put(ctx, outbox.Put{Bucket: counter.ActivationBucket, Key: id, Value: st}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The platform acked the first records; the rest wait in the queue.
	if err := ob.Ack(ctx, 6); err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v", ob.Stats())
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("WAL left beside the database")
	}
	if err := os.WriteFile(filepath.Join("testdata", "release-1.db"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
