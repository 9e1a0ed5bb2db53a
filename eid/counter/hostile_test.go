package counter

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/cardreader/sim"
	"github.com/guichet/guichet/sync/envelope"
)

// TestHostileCards feeds the flow cards a broken or malicious reader could
// return: each gets a clear error or a review that cannot be confirmed,
// and leaves nothing in the vault.
func TestHostileCards(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	junk := make([]byte, 10<<20)
	rand.Read(junk)
	cases := map[string]struct {
		card    cardreader.Card
		readErr bool // ReadCard fails
	}{
		"no photo":           {card: cardreader.Card{Kind: "sim", IDNumber: "X1"}, readErr: true},
		"10 MB junk photo":   {card: cardreader.Card{Kind: "sim", IDNumber: "X1", Photo: junk}},
		"truncated png":      {card: cardreader.Card{Kind: "sim", IDNumber: "X1", Photo: []byte("\x89PNG\r\n\x1a\n\x00\x00")}},
		"oversized fields":   {card: cardreader.Card{Kind: "sim", IDNumber: "X1", Address: strings.Repeat("A", 1<<20), Photo: []byte("x")}, readErr: true},
		"control characters": {card: cardreader.Card{Kind: "sim\x00\n", IDNumber: "\x00\xff", Photo: junk[:1000]}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, EngineFaces(e), "")
			rd, err := sim.New(sim.Options{Card: c.card})
			if err != nil {
				t.Fatal(err)
			}
			r.svc.cfg.Reader = rd
			tok, err := r.svc.SignIn(ctx, "off-7", "482913")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.svc.Begin(ctx, tok); err != nil {
				t.Fatal(err)
			}
			sc, err := r.svc.ReadCard(ctx, tok, cardreader.Access{})
			if c.readErr {
				if err == nil || sc.Error == "" || sc.Step != StepCard {
					t.Fatalf("ReadCard: %+v %v, want an error", sc, err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				sc = lookAtCamera(t, r, tok, liveSubject)
				if sc.Step != StepReview || sc.CanConfirm || sc.Match != nil || sc.Error == "" {
					t.Fatalf("review of a card with a bad photo: %+v", sc)
				}
				if _, err := r.svc.Confirm(ctx, tok); !errors.Is(err, ErrConfirm) {
					t.Fatalf("Confirm: %v", err)
				}
			}
			if _, err := r.svc.Refuse(ctx, tok, ReasonDocumentDoubt); err != nil {
				t.Fatal(err)
			}
			if ids, _ := r.vault.IDs(); len(ids) != 0 {
				t.Fatalf("vault keeps %v", ids)
			}
			if n, err := r.log.Verify(ctx); err != nil || n < 3 {
				t.Fatalf("audit %d %v", n, err)
			}
		})
	}
}

// TestConcurrentUse has the UI poll the screen and the link deliver
// results while the official works, for the race detector.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, &scriptFaces{match: true}, "")
	tok, err := r.svc.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				r.svc.Screen()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				r.svc.OnResult(envelope.Result{Seq: uint64(i), Key: KeyPrefix + "unknown", Status: "applied"})
			}
		}
	}()
	for i := 0; i < 5; i++ {
		r.activate(t, tok)
		if _, err := r.svc.Confirm(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	n := 0
	if err := r.ob.Reader().QueryRowContext(ctx, `SELECT count(*) FROM activations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("%d activations stored, want 5", n)
	}
	// Confirmed activations keep their card data until the platform
	// answers, even once the next one has begun.
	if ids, _ := r.vault.IDs(); len(ids) != 5 {
		t.Fatalf("vault holds %d records, want 5", len(ids))
	}
	if strings.Contains(strings.Join(r.steps(t), " "), "abandon") {
		t.Fatal("a confirmed activation was audited as abandoned")
	}
}

// TestSweepAndClose: vault records of activations that cannot be answered
// any more are destroyed at start, those waiting for the platform are
// kept; Close wipes the photo and ends the face session.
func TestSweepAndClose(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, &scriptFaces{match: true}, "")
	tok, _ := r.svc.SignIn(ctx, "off-7", "482913")
	queued := r.activate(t, tok).Activation
	if _, err := r.svc.Confirm(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := r.vault.Put("a-stale", []byte("left by a crash")); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	ids, _ := r.vault.IDs()
	if len(ids) != 1 || ids[0] != queued {
		t.Fatalf("after sweep: %v, want only %s", ids, queued)
	}
	r.activate(t, tok)
	a := r.svc.cur
	photo := a.photo
	fs := r.faces.sessions[len(r.faces.sessions)-1]
	if err := r.svc.Close(); err != nil {
		t.Fatal(err)
	}
	for i, b := range photo {
		if b != 0 {
			t.Fatalf("photo byte %d not wiped", i)
		}
	}
	if !fs.closed {
		t.Fatal("face session not closed")
	}
	if sc := r.svc.Screen(); sc.Step != StepSignIn {
		t.Fatalf("screen after Close %+v", sc)
	}
}
