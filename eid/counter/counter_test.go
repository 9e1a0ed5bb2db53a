package counter

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/cardreader/sim"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/eid/vault"
	"github.com/guichet/guichet/internal/shared"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// The citizen of the tests. Their name and numbers must never be found in
// the state directory or the logs.
var citizen = cardreader.Card{Kind: "cn-resident", Name: "Zhōu Xiǎomíng", Surname: "DUPONTEL", GivenNames: "MARIE-CLAIRE",
	IDNumber: "110101199003078515", DocumentNumber: "E98765432", Address: "12 Rue des Lilas, Nansha",
	Nationality: "CHN", Issuer: "Nansha PSB", BirthDate: "1990-03-07", Sex: "F", Verified: true}

// scripted is a face session that answers from a script, for the tests of
// the flow's logic; face_test.go runs the real eid/face session.
type scripted struct {
	mu     sync.Mutex
	feed   []face.Status
	match  face.Result
	closed bool
	photo  []byte
}

func (f *scripted) Feed(ctx context.Context, _ gocv.Mat) (face.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return face.Status{}, errors.New("closed")
	}
	st := f.feed[0]
	if len(f.feed) > 1 {
		f.feed = f.feed[1:]
	}
	return st, nil
}

func (f *scripted) MatchCard(ctx context.Context, photo []byte) (face.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.photo = bytes.Clone(photo)
	return f.match, nil
}

func (f *scripted) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

type scriptFaces struct {
	mu       sync.Mutex
	match    bool
	liveFail bool
	sessions []*scripted
}

func (s *scriptFaces) NewSession(ch face.Challenge) FaceSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := face.Liveness{Challenge: ch, State: face.Pending, Prompt: ch.Prompt()}
	half := pending
	half.Turn = 0.5
	end := pending
	end.State, end.Turn, end.Depth = face.Passed, 1.2, 1.5
	if s.liveFail {
		end.State, end.Reason = face.Failed, "flat picture"
	}
	score := 0.8
	if !s.match {
		score = 0.2
	}
	f := &scripted{
		feed: []face.Status{
			{Check: face.Check{Quality: face.Quality{Problems: []face.Problem{face.TooSmall}}}, Liveness: pending},
			{Liveness: half, Captured: true},
			{Liveness: end, Captured: true},
		},
		match: face.Result{Score: score, Match: s.match, Threshold: 0.5, Matcher: "lbp"},
	}
	s.sessions = append(s.sessions, f)
	return f
}

type rig struct {
	dir   string
	ob    *outbox.Store
	log   *audit.Log
	vault *vault.Vault
	svc   *Service
	faces *scriptFaces
	logs  *bytes.Buffer
	now   time.Time
	mu    sync.Mutex
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func newRig(t *testing.T, faces Faces, photo string) *rig {
	t.Helper()
	r := &rig{dir: t.TempDir(), now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), logs: new(bytes.Buffer)}
	_, key, _ := ed25519.GenerateKey(nil)
	var err error
	r.ob, err = outbox.Open(filepath.Join(r.dir, "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ob.Close() })
	return r.wire(t, faces, photo, slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

func (r *rig) wire(t *testing.T, faces Faces, photo string, lg *slog.Logger) *rig {
	t.Helper()
	ctx := context.Background()
	var err error
	if r.log, err = audit.Open(ctx, r.ob, r.clock); err != nil {
		t.Fatal(err)
	}
	if r.vault, err = vault.Open(filepath.Join(r.dir, "vault")); err != nil {
		t.Fatal(err)
	}
	if photo == "" {
		photo = orlPhoto(t, r.dir, 1, 1)
	}
	reader, err := sim.New(sim.Options{Card: citizen, Photo: photo})
	if err != nil {
		t.Fatal(err)
	}
	if sf, ok := faces.(*scriptFaces); ok {
		r.faces = sf
	}
	offs := &Officials{Store: r.ob, Iterations: 1000, LockAfter: 3}
	if err := offs.SetPIN(ctx, "off-7", "482913"); err != nil {
		t.Fatal(err)
	}
	r.svc, err = New(Config{Store: r.ob, Audit: r.log, Vault: r.vault, Reader: reader, Faces: faces, Officials: offs,
		SubjectKey: bytes.Repeat([]byte{7}, 32), Now: r.clock, Log: lg,
		Challenge: func() face.Challenge { return face.TurnLeft }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.svc.Close() })
	return r
}

func (r *rig) steps(t *testing.T) []string {
	t.Helper()
	var out []string
	encs, err := audit.Entries(context.Background(), r.ob)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range encs {
		e, err := audit.Decode(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Step+":"+e.Outcome)
	}
	return out
}

func frame() gocv.Mat { return gocv.NewMatWithSize(4, 4, gocv.MatTypeCV8UC3) }

// activate runs the flow up to review.
func (r *rig) activate(t *testing.T, tok string) Screen {
	t.Helper()
	ctx := context.Background()
	sc, err := r.svc.Begin(ctx, tok)
	if err != nil || sc.Step != StepCard {
		t.Fatalf("Begin: %+v %v", sc, err)
	}
	sc, err = r.svc.ReadCard(ctx, tok, cardreader.Access{})
	if err != nil || sc.Step != StepFace || sc.Document != "cn-resident" || !sc.Verified || sc.Liveness.State != face.Pending {
		t.Fatalf("ReadCard: %+v %v", sc, err)
	}
	m := frame()
	defer m.Close()
	for i := 0; i < 10 && sc.Step == StepFace; i++ {
		if sc, err = r.svc.Feed(ctx, tok, m); err != nil {
			t.Fatal(err)
		}
		if i == 0 && (len(sc.Problems) != 1 || sc.Problems[0] != face.TooSmall || sc.Prompt == "") {
			t.Fatalf("first frame screen: %+v", sc)
		}
	}
	if sc.Step != StepReview {
		t.Fatalf("after frames: %+v", sc)
	}
	return sc
}

func TestActivationQueuedThenActivated(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, &scriptFaces{match: true}, "")
	var screens []Screen
	r.svc.cfg.OnChange = func(s Screen) { screens = append(screens, s) }
	if sc := r.svc.Screen(); sc.Step != StepSignIn {
		t.Fatalf("initial screen %+v", sc)
	}
	tok, err := r.svc.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	if sc := r.svc.Screen(); sc.Step != StepReady {
		t.Fatalf("signed-in screen %+v", sc)
	}
	if _, err := r.svc.Confirm(ctx, tok); !errors.Is(err, ErrStep) {
		t.Fatalf("Confirm before any activation: %v", err)
	}
	sc := r.activate(t, tok)
	if !sc.CanConfirm || sc.Match == nil || sc.Match.Score != 0.8 || sc.Liveness.State != face.Passed {
		t.Fatalf("review screen %+v", sc)
	}
	if got := r.faces.sessions[0].photo; len(got) == 0 {
		t.Fatal("the card photo was not given to the match")
	}
	// While the activation waits, the card's data is in the vault only.
	ids, _ := r.vault.IDs()
	if len(ids) != 1 || ids[0] != sc.Activation {
		t.Fatalf("vault ids %v", ids)
	}
	plain, err := r.vault.Get(sc.Activation)
	if err != nil || !bytes.Contains(plain, []byte(citizen.IDNumber)) {
		t.Fatalf("vault record: %v", err)
	}
	sc, err = r.svc.Confirm(ctx, tok)
	if err != nil || sc.Step != StepQueued {
		t.Fatalf("Confirm: %+v %v", sc, err)
	}
	if !r.faces.sessions[0].closed {
		t.Error("face session not closed on confirm")
	}
	// The record: pseudonymous, no personal data.
	pend, err := r.ob.Pending(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var act *envelope.Record
	for _, p := range pend {
		payload, _, _ := envelope.Split(p.Frame)
		rec, err := envelope.DecodeRecord(payload)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == RecordType {
			act = rec
		}
	}
	if act == nil || act.Key != KeyPrefix+sc.Activation {
		t.Fatalf("no activation record among %d", len(pend))
	}
	var body Body
	if err := json.Unmarshal(act.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := Subject(bytes.Repeat([]byte{7}, 32), &citizen)
	if body.Subject != want || body.Level != LevelFull || body.Official != "off-7" || body.Liveness != "passed" ||
		body.Score != 0.8 || body.Document != "cn-resident" || !body.Verified {
		t.Fatalf("body %+v", body)
	}
	for _, s := range []string{citizen.IDNumber, citizen.DocumentNumber, citizen.Surname, "Lilas", "1990"} {
		if bytes.Contains(act.Body, []byte(s)) {
			t.Fatalf("activation body carries %q: %s", s, act.Body)
		}
	}
	// Another key gives another subject id; the same card the same.
	if Subject(bytes.Repeat([]byte{8}, 32), &citizen) == want || Subject(bytes.Repeat([]byte{7}, 32), &citizen) != want {
		t.Fatal("subject id not keyed or not stable")
	}
	// The platform's ack.
	r.svc.OnResult(envelope.Result{Seq: act.Seq, Key: act.Key, Status: "payment"}) // another flow's key prefix is ignored below
	r.svc.OnResult(envelope.Result{Seq: 1, Key: "pay-123", Status: "approved"})
	r.svc.OnResult(envelope.Result{Seq: act.Seq, Key: act.Key, Status: "applied"})
	if sc := r.svc.Screen(); sc.Step != StepRejected {
		// The first call above carried an unknown status: it is a
		// refusal, and the first answer is the one kept.
		t.Fatalf("screen after answers %+v", sc)
	}
	st, err := r.svc.Status(ctx, sc.Activation)
	if err != nil || st.Status != StepRejected || st.Seq != act.Seq {
		t.Fatalf("stored %+v %v", st, err)
	}
	if ids, _ := r.vault.IDs(); len(ids) != 0 {
		t.Fatalf("vault not emptied after the platform's answer: %v", ids)
	}
	if n, err := r.log.Verify(ctx); err != nil || n == 0 {
		t.Fatalf("audit: %d %v", n, err)
	}
	got := strings.Join(r.steps(t), " ")
	for _, w := range []string{"signin:ok", "begin:ok", "card_read:ok", "liveness:passed", "match:match", "confirm:queued", "platform:rejected"} {
		if !strings.Contains(got, w) {
			t.Errorf("audit lacks %s: %s", w, got)
		}
	}
	if len(screens) < 6 {
		t.Errorf("OnChange saw %d screens", len(screens))
	}
}

func TestActivatedOnAck(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, &scriptFaces{match: true}, "")
	tok, err := r.svc.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	sc := r.activate(t, tok)
	if sc, err = r.svc.Confirm(ctx, tok); err != nil {
		t.Fatal(err)
	}
	r.svc.OnResult(envelope.Result{Seq: 9, Key: KeyPrefix + sc.Activation, Status: "applied"})
	if sc := r.svc.Screen(); sc.Step != StepActivated || sc.Prompt != prompts[StepActivated] {
		t.Fatalf("screen %+v", sc)
	}
	// A duplicate ack changes nothing.
	r.svc.OnResult(envelope.Result{Seq: 9, Key: KeyPrefix + sc.Activation, Status: "duplicate"})
	if st, _ := r.svc.Status(ctx, sc.Activation); st.Status != StepActivated {
		t.Fatalf("stored %+v", st)
	}
	if _, err := r.vault.Get(sc.Activation); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("vault after ack: %v", err)
	}
}

func TestCannotConfirmMismatchOrFailedLiveness(t *testing.T) {
	ctx := context.Background()
	for name, faces := range map[string]*scriptFaces{"mismatch": {match: false}, "liveness": {match: true, liveFail: true}} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, faces, "")
			tok, err := r.svc.SignIn(ctx, "off-7", "482913")
			if err != nil {
				t.Fatal(err)
			}
			sc := r.activate(t, tok)
			if sc.CanConfirm {
				t.Fatalf("review allows confirming: %+v", sc)
			}
			if _, err := r.svc.Confirm(ctx, tok); !errors.Is(err, ErrConfirm) {
				t.Fatalf("Confirm: %v", err)
			}
			if _, err := r.svc.Refuse(ctx, tok, "he looked like Mr X"); !errors.Is(err, ErrReason) {
				t.Fatalf("free-text reason: %v", err)
			}
			sc, err = r.svc.RetryFace(ctx, tok)
			if err != nil || sc.Step != StepFace || !r.faces.sessions[0].closed {
				t.Fatalf("RetryFace: %+v %v", sc, err)
			}
			sc, err = r.svc.Refuse(ctx, tok, ReasonFaceMismatch)
			if err != nil || sc.Step != StepRefused || sc.Reason != ReasonFaceMismatch {
				t.Fatalf("Refuse: %+v %v", sc, err)
			}
			if ids, _ := r.vault.IDs(); len(ids) != 0 {
				t.Fatalf("vault kept a refused activation: %v", ids)
			}
			if st := r.ob.Stats(); st.LastSeq == 0 {
				t.Fatal("nothing audited")
			}
			pend, _ := r.ob.Pending(ctx, 0, 100)
			for _, p := range pend {
				if p.Type == RecordType {
					t.Fatal("an activation record was sent for a refused activation")
				}
			}
			if !strings.Contains(strings.Join(r.steps(t), " "), "refuse:ok") {
				t.Fatal("refusal not audited")
			}
		})
	}
}

func TestOfficialsAndSessions(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, &scriptFaces{match: true}, "")
	offs := r.svc.cfg.Officials
	if err := offs.SetPIN(ctx, "off-8", "12345"); !errors.Is(err, ErrWeakPIN) {
		t.Fatalf("short PIN: %v", err)
	}
	if err := offs.SetPIN(ctx, "Counter", "123456"); !errors.Is(err, ErrShared) {
		t.Fatalf("shared account: %v", err)
	}
	if err := offs.SetPIN(ctx, "bad id", "123456"); !errors.Is(err, ErrOfficial) {
		t.Fatalf("bad id: %v", err)
	}
	// The store holds a salted hash, not the PIN.
	var b []byte
	var iter int
	if err := r.ob.Reader().QueryRowContext(ctx, `SELECT CAST(id || salt || hash AS BLOB), iterations FROM officials WHERE id = 'off-7'`).Scan(&b, &iter); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("482913")) || iter != 1000 {
		t.Fatalf("stored official: %q, %d iterations", b, iter)
	}
	if _, err := r.svc.SignIn(ctx, "nobody", "482913"); !errors.Is(err, ErrBadPIN) {
		t.Fatalf("unknown official: %v", err)
	}
	// Two wrong PINs, then the right one resets the count.
	for i := 0; i < 2; i++ {
		if _, err := r.svc.SignIn(ctx, "off-7", "000000"); !errors.Is(err, ErrBadPIN) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	tok, err := r.svc.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	// Sessions expire when idle.
	r.advance(4 * time.Minute)
	if _, err := r.svc.Begin(ctx, tok); err != nil {
		t.Fatalf("active session: %v", err)
	}
	r.advance(6 * time.Minute)
	if _, err := r.svc.ReadCard(ctx, tok, cardreader.Access{}); !errors.Is(err, ErrSession) {
		t.Fatalf("idle session: %v", err)
	}
	if sc := r.svc.Screen(); sc.Step != StepSignIn {
		t.Fatalf("screen after expiry %+v", sc)
	}
	if ids, _ := r.vault.IDs(); len(ids) != 0 {
		t.Fatalf("vault after expiry %v", ids)
	}
	// Three wrong PINs in a row lock the account, even for the right PIN.
	for i := 0; i < 2; i++ {
		if _, err := r.svc.SignIn(ctx, "off-7", "111111"); !errors.Is(err, ErrBadPIN) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if _, err := r.svc.SignIn(ctx, "off-7", "111111"); !errors.Is(err, ErrLocked) {
		t.Fatalf("third wrong PIN: %v", err)
	}
	if _, err := r.svc.SignIn(ctx, "off-7", "482913"); !errors.Is(err, ErrLocked) {
		t.Fatalf("right PIN on a locked account: %v", err)
	}
	if err := offs.SetPIN(ctx, "off-7", "739201"); err != nil {
		t.Fatal(err)
	}
	tok, err = r.svc.SignIn(ctx, "off-7", "739201")
	if err != nil {
		t.Fatalf("after reset: %v", err)
	}
	// A session has a maximal age however active.
	signedIn := r.clock()
	for i := 0; i < 150; i++ {
		r.advance(4 * time.Minute)
		if _, err := r.svc.Begin(ctx, tok); err != nil {
			if !errors.Is(err, ErrSession) || r.clock().Sub(signedIn) <= 8*time.Hour {
				t.Fatalf("session ended after %v: %v", r.clock().Sub(signedIn), err)
			}
			break
		}
		if i == 149 {
			t.Fatal("session never expired")
		}
	}
	if err := r.svc.SignOut(ctx, tok); !errors.Is(err, ErrSession) {
		t.Fatalf("sign out of an expired session: %v", err)
	}
	got := strings.Join(r.steps(t), " ")
	for _, w := range []string{"signin:failed", "signin:locked", "session:expired", "abandon:ok"} {
		if !strings.Contains(got, w) {
			t.Errorf("audit lacks %s: %s", w, got)
		}
	}
}

// orlPhoto writes image i of ORL subject s as a PNG card photo in dir.
func orlPhoto(t testing.TB, dir string, s, i int) string {
	t.Helper()
	m := orl(t, s, i)
	defer m.Close()
	buf, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	p := filepath.Join(dir, fmt.Sprintf("card-s%d-%d.png", s, i))
	if err := os.WriteFile(p, buf.GetBytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// orl reads image i of ORL subject s in grey.
func orl(t testing.TB, s, i int) gocv.Mat {
	t.Helper()
	p := shared.Testdata("faces", "orl", fmt.Sprintf("s%d", s), fmt.Sprintf("%d.pgm", i))
	m := gocv.IMRead(p, gocv.IMReadGrayScale)
	if m.Empty() {
		t.Fatalf("cannot read the ORL face set at %s (shared test data)", p)
	}
	return m
}
