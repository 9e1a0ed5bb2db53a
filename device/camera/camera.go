// Package camera gives the counter's cameras one small interface and
// chooses their drivers by configuration.
//
// Frames are OpenCV matrices (gocv.Mat, 8-bit BGR), which is why this
// interface lives here and not in package device. The drivers are "v4l2"
// for a real camera (Video4Linux2 through OpenCV's videoio), and two
// simulated twins that play real image files through the same OpenCV
// calls: "video" plays a video file and "folder" plays a folder of images.
package camera

import (
	"context"
	"errors"
	"time"

	"github.com/guichet/guichet/device"
	"gocv.io/x/gocv"
)

// Camera yields frames.
type Camera interface {
	// Read stores the next frame in dst, an 8-bit BGR image, blocking
	// until it is there or ctx ends. It returns ErrEnd at the end of a
	// recording that does not loop.
	Read(ctx context.Context, dst *gocv.Mat) error
	Close() error
}

// Drivers are the camera drivers, by name: "v4l2", "video", "folder".
var Drivers = device.NewRegistry[Camera]("camera")

// ErrEnd is returned by Read when a recording has no more frames.
var ErrEnd = errors.New("camera: end of recording")

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("camera: closed")

// pacer spaces frames by a period; a zero period does not wait.
type pacer struct {
	period time.Duration
	next   time.Time
}

// wait blocks until the next frame is due or ctx ends. A reader that
// falls behind is not made to catch up with a burst: the schedule
// restarts from now.
func (p *pacer) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.period <= 0 {
		return nil
	}
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > p.period {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	p.next = p.next.Add(p.period)
	return nil
}

// periodOf returns the frame period for fps frames a second; 0 for none.
func periodOf(fps float64) time.Duration {
	if fps <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / fps)
}
