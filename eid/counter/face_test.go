package counter

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"image"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/facescene"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// liveSubject is an ORL subject whose ten images, fed in order after three
// frames of the first, pass eid/face's turn-left challenge.
const liveSubject = 5

func openEngine(t testing.TB) *face.Engine {
	t.Helper()
	e, err := face.Open(face.Config{})
	if err != nil {
		t.Fatalf("face engine (apt-get install opencv-data): %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// lookAtCamera feeds the citizen's frames until the flow leaves the face
// step.
func lookAtCamera(t *testing.T, r *rig, tok string, subject int) Screen {
	t.Helper()
	ctx := context.Background()
	order := facescene.Order
	var sc Screen
	for k, i := range order {
		m := orl(t, subject, i)
		fr := facescene.Place(m, image.Pt(2*min(k, 2), min(k, 2)))
		m.Close()
		var err error
		sc, err = r.svc.Feed(ctx, tok, fr)
		fr.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sc.Step != StepFace {
			break
		}
	}
	return sc
}

// TestRealFaceActivation runs the flow with eid/face's real session on ORL
// faces: the citizen's own card matches, another person's does not.
func TestRealFaceActivation(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	photos := t.TempDir()
	for _, c := range []struct {
		card    int
		confirm bool
	}{{liveSubject, true}, {20, false}, {33, false}} {
		r := newRig(t, EngineFaces(e), orlPhoto(t, photos, c.card, 1))
		tok, err := r.svc.SignIn(ctx, "off-7", "482913")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Begin(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.ReadCard(ctx, tok, cardreader.Access{}); err != nil {
			t.Fatal(err)
		}
		sc := lookAtCamera(t, r, tok, liveSubject)
		if sc.Step != StepReview || sc.Liveness.State != face.Passed || sc.Match == nil {
			t.Fatalf("card of subject %d: screen %+v", c.card, sc)
		}
		t.Logf("card of subject %d: score %.3f threshold %.3f", c.card, sc.Match.Score, sc.Match.Threshold)
		if sc.CanConfirm != c.confirm {
			t.Fatalf("card of subject %d: can confirm %v, want %v", c.card, sc.CanConfirm, c.confirm)
		}
		if c.confirm {
			if sc, err = r.svc.Confirm(ctx, tok); err != nil || sc.Step != StepQueued {
				t.Fatalf("Confirm: %+v %v", sc, err)
			}
		} else if _, err := r.svc.Confirm(ctx, tok); err == nil {
			t.Fatal("a mismatch was confirmed")
		}
	}
}

// TestNoPersonalDataAtRest runs a full activation with real faces through
// a real outbox, link, Mosquitto and platform, then searches every file of
// the state directory (SQLite databases, WAL and shm included, the vault,
// the platform's store) and the captured logs for the citizen's name,
// numbers and address, in UTF-8 and UTF-16, and for the card photo.
func TestNoPersonalDataAtRest(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	broker := brokertest.StartMosquitto(t)
	photos := t.TempDir()
	photo := orlPhoto(t, photos, liveSubject, 1)

	logs := &syncBuffer{}
	lg := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := &rig{dir: t.TempDir(), now: time.Now()}
	_, devKey, _ := ed25519.GenerateKey(nil)
	_, platKey, _ := ed25519.GenerateKey(nil)
	pstore, err := platform.OpenStore(filepath.Join(r.dir, "platform", "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer pstore.Close()
	if err := pstore.Enrol(ctx, "t1", "d1", devKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	r.ob, err = outbox.Open(filepath.Join(r.dir, "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	defer r.ob.Close()
	r.wire(t, EngineFaces(e), photo, lg)
	r.svc.cfg.Now = time.Now

	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{broker.URL()}, Key: platKey,
		BatchDelay: time.Millisecond, Logger: lg}, pstore, nil)
	router := link.NewRouter()
	router.HandleResults(r.svc.OnResult, RecordType)
	lk, err := link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{broker.URL()},
		PlatformKey: platKey.Public().(ed25519.PublicKey), AckTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Logger: lg,
		Router: router}, r.ob)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); srv.Run(runCtx) }()
	go func() { defer wg.Done(); lk.Run(runCtx) }()

	tok, err := r.svc.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Begin(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.ReadCard(ctx, tok, cardreader.Access{}); err != nil {
		t.Fatal(err)
	}
	if sc := lookAtCamera(t, r, tok, liveSubject); !sc.CanConfirm {
		t.Fatalf("review %+v", sc)
	}
	sc, err := r.svc.Confirm(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.svc.Screen().Step != StepActivated {
		if time.Now().After(deadline) {
			t.Fatalf("not activated: %+v, outbox %+v", r.svc.Screen(), r.ob.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for r.ob.Stats().Depth != 0 { // the audit entries after the ack
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %+v", r.ob.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	recs, err := pstore.Records(ctx, "t1", "d1")
	if err != nil {
		t.Fatal(err)
	}
	var acts, audits int
	var upstream [][]byte
	for _, rec := range recs {
		switch rec.Type {
		case RecordType:
			acts++
		case audit.RecordType:
			audits++
			upstream = append(upstream, rec.Body)
		}
	}
	local, err := audit.Entries(ctx, r.ob)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Reconcile(local, upstream); err != nil {
		t.Fatalf("the platform's copy of the audit log: %v", err)
	}
	if acts != 1 || audits < 6 {
		t.Fatalf("platform holds %d activations and %d audit entries", acts, audits)
	}
	pic, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"photo": pic[len(pic)/2 : len(pic)/2+48]}
	for what, s := range map[string]string{"name": citizen.Name, "surname": citizen.Surname, "given names": citizen.GivenNames,
		"id number": citizen.IDNumber, "document number": citizen.DocumentNumber, "address": citizen.Address} {
		needles[what+" utf-8"] = []byte(s)
		needles[what+" utf-16le"] = utf16Bytes(s, false)
		needles[what+" utf-16be"] = utf16Bytes(s, true)
	}
	walAt := search(t, r.dir, needles, "while running")
	if err := r.svc.SignOut(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Close(); err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait()
	if n, err := r.log.Verify(ctx); err != nil || n < 8 {
		t.Fatalf("audit verify: %d %v", n, err)
	}
	r.ob.Close()
	pstore.Close()
	if ids, _ := r.vault.IDs(); len(ids) != 0 {
		t.Fatalf("vault still holds %v", ids)
	}

	files := search(t, r.dir, needles, "after close")
	if walAt == 0 {
		t.Fatal("no SQLite WAL file was searched while the stores were open")
	}
	logged := logs.bytes()
	if len(logged) == 0 || !bytes.Contains(logged, []byte(sc.Activation)) {
		t.Fatalf("the logs are not captured: %q", logged)
	}
	for what, n := range needles {
		if bytes.Contains(logged, n) {
			t.Errorf("%s found in the logs", what)
		}
	}
	t.Logf("searched %d files and %d bytes of logs", files, len(logged))
}

// search looks for the needles in every file under dir and returns how
// many WAL files it read (or, after close, how many files).
func search(t *testing.T, dir string, needles map[string][]byte, when string) int {
	t.Helper()
	var files, wals int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if filepath.Ext(p) == ".db-wal" || len(p) > 4 && p[len(p)-4:] == "-wal" {
			wals++
		}
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s: %s found in %s", when, what, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("%s: searched only %d files", when, files)
	}
	t.Logf("%s: searched %d files, %d of them WAL", when, files, wals)
	if when == "while running" {
		return wals
	}
	return files
}

func utf16Bytes(s string, be bool) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if be {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return b
}
