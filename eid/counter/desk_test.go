package counter

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/cardreader/sim"
	"github.com/guichet/guichet/eid/face"
)

// fakeCamera hands out the test frame and counts what the desk does.
type fakeCamera struct {
	mu                  sync.Mutex
	opened, closed, got int
}

func (c *fakeCamera) open(context.Context) (FaceCamera, error) {
	c.mu.Lock()
	c.opened++
	c.mu.Unlock()
	return c, nil
}

func (c *fakeCamera) Read(ctx context.Context, dst *gocv.Mat) error {
	m := frame()
	defer m.Close()
	m.CopyTo(dst)
	c.mu.Lock()
	c.got++
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeCamera) Close() error {
	c.mu.Lock()
	c.closed++
	c.mu.Unlock()
	return nil
}

// The desk opens the camera once the card is read, feeds the face step
// until the flow moves on, closes the camera, and its board follows the
// flow's screens.
func TestDeskFeedsTheFaceStep(t *testing.T) {
	r := newRig(t, &scriptFaces{match: true}, "")
	ctx := context.Background()
	reader, err := sim.New(sim.Options{Card: citizen, Photo: orlPhoto(t, r.dir, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.Close() // the rig's own service; the desk makes its own
	cam := &fakeCamera{}
	if _, err := NewDesk(DeskConfig{}); err == nil {
		t.Fatal("desk without a camera accepted")
	}
	d, err := NewDesk(DeskConfig{Config: Config{Store: r.ob, Audit: r.log, Vault: r.vault, Reader: reader,
		Faces: &scriptFaces{match: true}, Officials: &Officials{Store: r.ob, Iterations: 1000},
		SubjectKey: bytes.Repeat([]byte{7}, 32), Now: r.clock, Log: slog.New(slog.DiscardHandler),
		Challenge: func() face.Challenge { return face.TurnLeft }},
		OpenCamera: cam.open, FrameRate: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(runCtx) }()
	defer func() { stop(); wg.Wait() }()

	if err := d.SetPIN(ctx, "off-7", "482913"); err != nil {
		t.Fatal(err)
	}
	sc0, v0, changed := d.Current()
	if sc0.Step != StepSignIn {
		t.Fatalf("first screen %+v", sc0)
	}
	tok, err := d.SignIn(ctx, "off-7", "482913")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("board not told of the sign-in")
	}
	if _, err := d.Begin(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if sc, err := d.ReadCard(ctx, tok, cardreader.Access{}); err != nil || sc.Step != StepFace {
		t.Fatalf("ReadCard %+v %v", sc, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc, v, _ := d.Current()
		cam.mu.Lock()
		closed := cam.closed
		cam.mu.Unlock()
		if sc.Step == StepReview && closed == 1 && v > v0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("face step not fed: screen %+v, camera %+v", sc, cam)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cam.mu.Lock()
	defer cam.mu.Unlock()
	if cam.opened != 1 || cam.got == 0 {
		t.Fatalf("camera opened %d times, %d frames", cam.opened, cam.got)
	}
}
