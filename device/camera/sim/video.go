// Package sim holds the simulated cameras, the cameras' test doubles:
// they play real image files through the same OpenCV calls as a camera.
// "video" plays a video file and "folder" a folder of images; both
// register as camera drivers.
package sim

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/camera"
	"gocv.io/x/gocv"
)

func init() {
	device.Register(camera.Drivers, "video", func(ctx context.Context, o VideoOptions) (camera.Camera, error) {
		return OpenVideo(o)
	})
}

// VideoOptions configure the "video" camera.
type VideoOptions struct {
	// Path is the video file, in any container and codec the system's
	// OpenCV can read (MJPG in .avi always works on Debian).
	Path string `yaml:"path"`
	// Loop starts over at the end instead of returning camera.ErrEnd.
	Loop bool `yaml:"loop"`
	// Speed paces playback: 1 plays at the file's frame rate, 2 twice as
	// fast; 0 yields frames as fast as they decode.
	Speed float64 `yaml:"speed"`
}

// Video plays a video file as camera frames.
type Video struct {
	path string
	loop bool

	mu     sync.Mutex
	vc     *gocv.VideoCapture
	pace   pacer
	closed bool
}

// OpenVideo opens the file o.Path.
func OpenVideo(o VideoOptions) (*Video, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("camera: video: no path")
	}
	// OpenCV says only "cannot open" for a missing file: say which.
	if _, err := os.Stat(o.Path); err != nil {
		return nil, fmt.Errorf("camera: video: %w", err)
	}
	vc, err := gocv.OpenVideoCaptureWithAPI(o.Path, gocv.VideoCaptureAny)
	if err != nil {
		return nil, fmt.Errorf("camera: video %s: %w", o.Path, err)
	}
	if !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("camera: video %s: OpenCV cannot decode it", o.Path)
	}
	v := &Video{path: o.Path, loop: o.Loop, vc: vc}
	if o.Speed > 0 {
		fps := vc.Get(gocv.VideoCaptureFPS)
		if fps <= 0 || fps > 1000 {
			fps = 30 // containers without a rate: play at a camera's
		}
		v.pace.period = periodOf(fps * o.Speed)
	}
	return v, nil
}

// Read stores the next frame in dst.
func (v *Video) Read(ctx context.Context, dst *gocv.Mat) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return camera.ErrClosed
	}
	if err := v.pace.wait(ctx); err != nil {
		return err
	}
	if v.vc.Read(dst) && !dst.Empty() {
		return nil
	}
	if !v.loop {
		return camera.ErrEnd
	}
	v.vc.Set(gocv.VideoCapturePosFrames, 0)
	if v.vc.Read(dst) && !dst.Empty() {
		return nil
	}
	return fmt.Errorf("camera: video %s: no frame after rewinding", v.path)
}

// Close closes the file.
func (v *Video) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	return v.vc.Close()
}
