package counter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/tamper"
)

// The tamper switch's lock refuses to begin an activation, audited, until
// a technician clears it.
func TestTamperLockRefusesBegin(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, &scriptFaces{match: true}, "")
	people := &staff.Staff{Store: r.ob, Iterations: 1000}
	if err := people.Add(ctx, "tech1", "Tech One", staff.Technician, "482913"); err != nil {
		t.Fatal(err)
	}
	sw, err := tamper.Open(ctx, tamper.Config{Store: r.ob, Audit: r.log, Staff: people})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.cfg.Lock = sw.Check
	tok, err := r.svc.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Changed(ctx, true); err != nil {
		t.Fatal(err)
	}
	sc, err := r.svc.Begin(ctx, tok)
	if !errors.Is(err, tamper.ErrLocked) || sc.Step == StepCard {
		t.Fatalf("Begin while locked: %+v, %v", sc, err)
	}
	if _, err := sw.Clear(ctx, "tech1", "482913"); err != nil {
		t.Fatal(err)
	}
	r.activate(t, tok)
	want := "signin:ok tamper:opened begin:refused tamper_clear:ok begin:ok"
	if got := strings.Join(r.steps(t)[:5], " "); got != want {
		t.Fatalf("audit %s, want %s", got, want)
	}
}
