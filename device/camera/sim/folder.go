package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/camera"
	"gocv.io/x/gocv"
)

func init() {
	device.Register(camera.Drivers, "folder", func(ctx context.Context, o FolderOptions) (camera.Camera, error) {
		return OpenFolder(o)
	})
}

// FolderOptions configure the "folder" camera.
type FolderOptions struct {
	// Path is the folder; its .png, .jpg, .jpeg, .bmp, .tif and .tiff
	// files are the frames, in name order.
	Path string `yaml:"path"`
	// Once plays the folder once and then returns camera.ErrEnd; by default it
	// loops.
	Once bool `yaml:"once"`
	// FPS paces the frames; 0 yields them as fast as they are read.
	FPS float64 `yaml:"fps"`
}

// Folder plays a folder of images as camera frames.
type Folder struct {
	files []string
	once  bool

	mu     sync.Mutex
	i      int
	pace   pacer
	closed bool
}

var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".bmp": true, ".tif": true, ".tiff": true}

// OpenFolder lists the images of o.Path; it fails if there are none.
func OpenFolder(o FolderOptions) (*Folder, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("camera: folder: no path")
	}
	ents, err := os.ReadDir(o.Path)
	if err != nil {
		return nil, fmt.Errorf("camera: folder: %w", err)
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			files = append(files, filepath.Join(o.Path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("camera: folder %s: no image files", o.Path)
	}
	sort.Strings(files)
	return &Folder{files: files, once: o.Once, pace: pacer{period: periodOf(o.FPS)}}, nil
}

// Read stores the next image in dst.
func (f *Folder) Read(ctx context.Context, dst *gocv.Mat) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return camera.ErrClosed
	}
	if f.i == len(f.files) {
		if f.once {
			return camera.ErrEnd
		}
		f.i = 0
	}
	if err := f.pace.wait(ctx); err != nil {
		return err
	}
	name := f.files[f.i]
	f.i++
	img := gocv.IMRead(name, gocv.IMReadColor)
	if img.Empty() {
		return fmt.Errorf("camera: folder: cannot read image %s", name)
	}
	defer img.Close()
	img.CopyTo(dst)
	return nil
}

// Close ends the playback.
func (f *Folder) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
