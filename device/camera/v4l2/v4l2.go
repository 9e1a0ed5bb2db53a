// Package v4l2 reads a real camera through Video4Linux2, by OpenCV's
// videoio. It registers as camera driver "v4l2".
package v4l2

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/camera"
	"gocv.io/x/gocv"
)

func init() {
	device.Register(camera.Drivers, "v4l2", func(ctx context.Context, o Options) (camera.Camera, error) {
		return Open(o)
	})
}

// Options configure the "v4l2" camera.
type Options struct {
	// Device is a device index ("0") or path ("/dev/video0"); default 0.
	Device string `yaml:"device"`
	// Width, Height and FPS ask the camera for a mode; 0 leaves its
	// default. Counter cameras are usually asked for 1280x720 at 30.
	Width  int     `yaml:"width"`
	Height int     `yaml:"height"`
	FPS    float64 `yaml:"fps"`
	// FourCC asks for a pixel format such as "MJPG", which USB cameras
	// need for 720p at 30 fps over USB 2.
	FourCC string `yaml:"fourcc"`
}

// Camera is a Video4Linux2 camera read through OpenCV.
type Camera struct {
	name string

	mu     sync.Mutex
	vc     *gocv.VideoCapture
	closed bool
}

// Open opens the camera o.Device and asks for o's mode.
func Open(o Options) (*Camera, error) {
	dev := o.Device
	if dev == "" {
		dev = "0"
	}
	var src any = dev
	if n, err := strconv.Atoi(dev); err == nil {
		src = n
	}
	vc, err := gocv.OpenVideoCaptureWithAPI(src, gocv.VideoCaptureV4L2)
	if err != nil {
		return nil, fmt.Errorf("camera: v4l2 %s: %w", dev, err)
	}
	if !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("camera: v4l2 %s: cannot open the device", dev)
	}
	if o.FourCC != "" {
		if len(o.FourCC) != 4 {
			vc.Close()
			return nil, fmt.Errorf("camera: v4l2 %s: fourcc %q is not 4 characters", dev, o.FourCC)
		}
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec(o.FourCC))
	}
	if o.Width > 0 && o.Height > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(o.Width))
		vc.Set(gocv.VideoCaptureFrameHeight, float64(o.Height))
	}
	if o.FPS > 0 {
		vc.Set(gocv.VideoCaptureFPS, o.FPS)
	}
	// One buffered frame: a reader that decodes slower than the camera
	// should see the newest frame, not one from a second ago.
	vc.Set(gocv.VideoCaptureBufferSize, 1)
	return &Camera{name: dev, vc: vc}, nil
}

// Read stores the next frame in dst. The V4L2 read itself cannot be
// interrupted; it returns within a frame period of a working camera.
func (c *Camera) Read(ctx context.Context, dst *gocv.Mat) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return camera.ErrClosed
	}
	if !c.vc.Read(dst) || dst.Empty() {
		return fmt.Errorf("camera: v4l2 %s: no frame (unplugged?)", c.name)
	}
	return ctx.Err()
}

// Close releases the device.
func (c *Camera) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.vc.Close()
}
