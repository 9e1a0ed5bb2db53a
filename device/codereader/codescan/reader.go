package codescan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/codereader"
	"gocv.io/x/gocv"
)

func init() {
	device.Register(codereader.Drivers, "camera", func(ctx context.Context, o ReaderOptions) (codereader.Reader, error) {
		return OpenReader(ctx, o)
	})
}

// ReaderOptions configure the code reader driver "camera".
type ReaderOptions struct {
	// Camera names the camera driver ("v4l2", "video", "folder") and
	// CameraOptions are its options.
	Camera        string    `yaml:"camera"`
	CameraOptions yaml.Node `yaml:"camera_options"`
	// Formats are the symbologies to read; empty means DefaultFormats.
	Formats      []string `yaml:"formats"`
	ReaderConfig `yaml:",inline"`
}

// ReaderConfig tunes a Reader.
type ReaderConfig struct {
	// Source names the reader in the codes it yields; default "camera".
	Source string `yaml:"source"`
	// Dedupe is how long the same text is not reported again after it was
	// reported; default 3s. A payment screen shows the same number as a QR
	// code and a barcode: they count as the same code.
	Dedupe time.Duration `yaml:"dedupe"`
	// Confirm is in how many frames, within Window, a code must be decoded
	// before it is reported; default 2, 1 reports on the first frame.
	Confirm int `yaml:"confirm"`
	// Window is how long sightings of a code count towards Confirm;
	// default 500ms.
	Window time.Duration `yaml:"window"`
}

func (c *ReaderConfig) defaults() {
	if c.Source == "" {
		c.Source = "camera"
	}
	if c.Dedupe <= 0 {
		c.Dedupe = 3 * time.Second
	}
	if c.Confirm <= 0 {
		c.Confirm = 2
	}
	if c.Window <= 0 {
		c.Window = 500 * time.Millisecond
	}
}

// OpenReader opens the camera and decoder o names and starts reading.
func OpenReader(ctx context.Context, o ReaderOptions) (*Reader, error) {
	if o.Camera == "" {
		return nil, errors.New("codescan: no camera driver named")
	}
	cam, err := camera.Drivers.Open(ctx, o.Camera, &o.CameraOptions)
	if err != nil {
		return nil, device.Nest("camera_options", err)
	}
	dec, err := NewDecoder(Options{Formats: o.Formats})
	if err != nil {
		cam.Close()
		return nil, err
	}
	return NewReader(cam, dec, o.ReaderConfig), nil
}

// Stats counts a Reader's frames.
type Stats struct {
	// Grabbed frames were read from the camera; Decoded went through the
	// decoder; the others were skipped because a newer frame had come.
	Grabbed, Decoded int
	// Reported codes went to ReadCode.
	Reported int
}

// Reader reads codes from a camera. It satisfies codereader.Reader.
//
// One goroutine reads the camera as fast as it delivers, keeping only the
// newest frame; another decodes whichever frame is newest when it is free,
// so a decoder slower than the camera skips frames instead of falling
// behind. Both stop on Close.
type Reader struct {
	cam camera.Camera
	dec *Decoder
	cfg ReaderConfig

	codes  chan codereader.Code
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	fresh   *sync.Cond
	latest  gocv.Mat
	hasNew  bool
	done    bool  // no more frames will come
	err     error // why reading stopped, reported after the codes
	stats   Stats
	stopped chan struct{} // closed when decoding has ended
}

// NewReader starts reading codes from cam with dec; the Reader owns both
// and closes them on Close.
func NewReader(cam camera.Camera, dec *Decoder, cfg ReaderConfig) *Reader {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reader{
		cam: cam, dec: dec, cfg: cfg,
		codes:   make(chan codereader.Code, 16),
		cancel:  cancel,
		latest:  gocv.NewMat(),
		stopped: make(chan struct{}),
	}
	r.fresh = sync.NewCond(&r.mu)
	r.wg.Add(2)
	go r.grab(ctx)
	go r.decode(ctx)
	return r
}

// maxCameraErrors is how many reads in a row may fail before the Reader
// gives up on the camera.
const maxCameraErrors = 10

// grab reads frames and keeps the newest.
func (r *Reader) grab(ctx context.Context) {
	defer r.wg.Done()
	frame := gocv.NewMat()
	defer frame.Close()
	failures := 0
	stop := func(err error) {
		r.mu.Lock()
		r.done = true
		if r.err == nil {
			r.err = err
		}
		r.fresh.Broadcast()
		r.mu.Unlock()
	}
	for {
		err := r.cam.Read(ctx, &frame)
		switch {
		case ctx.Err() != nil:
			stop(ctx.Err())
			return
		case errors.Is(err, camera.ErrEnd):
			stop(err)
			return
		case err != nil:
			failures++
			slog.Warn("camera read failed", "source", r.cfg.Source, "err", err, "in_a_row", failures)
			if failures >= maxCameraErrors {
				stop(fmt.Errorf("codescan: camera failed %d times in a row: %w", failures, err))
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond * time.Duration(failures)):
			}
			continue
		}
		failures = 0
		r.mu.Lock()
		r.latest, frame = frame, r.latest
		r.hasNew = true
		r.stats.Grabbed++
		r.fresh.Signal()
		r.mu.Unlock()
	}
}

// sighting is a code seen in recent frames, not yet reported.
type sighting struct {
	best  Symbol
	count int
	last  time.Time
}

// decode decodes the newest frame whenever it is free, and reports codes
// seen in enough frames.
func (r *Reader) decode(ctx context.Context) {
	defer r.wg.Done()
	defer close(r.stopped)
	work := gocv.NewMat()
	defer work.Close()
	seen := map[string]*sighting{}
	reported := map[string]time.Time{}
	for {
		r.mu.Lock()
		for !r.hasNew && !r.done {
			r.fresh.Wait()
		}
		if !r.hasNew || ctx.Err() != nil {
			r.mu.Unlock()
			return
		}
		r.latest, work = work, r.latest
		r.hasNew = false
		r.stats.Decoded++
		r.mu.Unlock()

		syms, err := r.dec.Decode(work)
		if err != nil {
			slog.Warn("decoding a frame failed", "source", r.cfg.Source, "err", err)
			continue
		}
		now := time.Now()
		for text, s := range seen {
			if now.Sub(s.last) > r.cfg.Window {
				delete(seen, text)
			}
		}
		for text, at := range reported {
			if now.Sub(at) > r.cfg.Dedupe {
				delete(reported, text)
			}
		}
		for _, sym := range syms {
			if _, dup := reported[sym.Text]; dup {
				continue
			}
			s := seen[sym.Text]
			if s == nil {
				s = &sighting{best: sym}
				seen[sym.Text] = s
			}
			s.count++
			s.last = now
			// The largest sighting is the one read from closest, the
			// format it gives is the one reported.
			if sym.Size() > s.best.Size() {
				s.best = sym
			}
			if s.count < r.cfg.Confirm {
				continue
			}
			delete(seen, sym.Text)
			reported[sym.Text] = now
			select {
			case r.codes <- s.best.Code(r.cfg.Source, now):
				r.mu.Lock()
				r.stats.Reported++
				r.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}
}

// ReadCode returns the next code read, blocking until one is read or ctx
// ends. After the camera has ended or failed, it returns the codes still
// pending and then the reason, wrapping camera.ErrEnd at the end of a
// recording.
func (r *Reader) ReadCode(ctx context.Context) (codereader.Code, error) {
	select {
	case c := <-r.codes:
		return c, nil
	case <-ctx.Done():
		return codereader.Code{}, ctx.Err()
	case <-r.stopped:
	}
	select {
	case c := <-r.codes:
		return c, nil
	default:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return codereader.Code{}, fmt.Errorf("codescan: reader stopped: %w", r.err)
}

// Stats returns the frame counts so far.
func (r *Reader) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Close stops reading and closes the camera and the decoder.
func (r *Reader) Close() error {
	r.cancel()
	r.mu.Lock()
	r.fresh.Broadcast()
	r.mu.Unlock()
	r.wg.Wait()
	r.latest.Close()
	return errors.Join(r.cam.Close(), r.dec.Close())
}
