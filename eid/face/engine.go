package face

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/eid/face/internal/cvx"
)

// Config selects the detector, the matcher and the gates. The zero Config
// uses the Haar cascades of Debian's opencv-data and the LBP matcher.
type Config struct {
	// FaceCascade and EyeCascade are OpenCV cascade files; empty selects
	// DefaultFaceCascade and DefaultEyeCascade.
	FaceCascade string `yaml:"face_cascade" json:"face_cascade,omitempty"`
	EyeCascade  string `yaml:"eye_cascade" json:"eye_cascade,omitempty"`
	// YuNetModel, when set, is the ONNX file of the YuNet detector
	// (OpenCV model zoo, face_detection_yunet), used instead of the face
	// cascade. The eye cascade is still used for eye states.
	YuNetModel string `yaml:"yunet_model" json:"yunet_model,omitempty"`
	// SFaceModel, when set, is an SFace-compatible ONNX embedding model
	// used instead of the LBP matcher.
	SFaceModel string `yaml:"sface_model" json:"sface_model,omitempty"`
	// Threshold overrides the matcher's default decision threshold.
	Threshold float64 `yaml:"threshold" json:"threshold,omitempty"`
	// Limits overrides DefaultLimits.
	Limits *Limits `yaml:"limits" json:"limits,omitempty"`
	// Threads, when positive, sets the threads of OpenCV's parallel loops
	// for the whole process (1 keeps the counter's UI responsive).
	Threads int `yaml:"threads" json:"threads,omitempty"`
}

// Engine holds the loaded detector and matcher, shared by the sessions of
// one counter. Its methods are safe for concurrent use; they run one at a
// time, as OpenCV's classifiers and networks are not reentrant.
type Engine struct {
	mu        sync.Mutex
	det       Detector
	eyes      *Cascade // eye states for liveness; also the detector without YuNet
	matcher   Matcher
	threshold float64
	limits    Limits
	gray      gocv.Mat
}

// Open loads what cfg names.
func Open(cfg Config) (*Engine, error) {
	if cfg.Threads > 0 {
		cvx.SetNumThreads(cfg.Threads)
	}
	c, err := NewCascade(cfg.FaceCascade, cfg.EyeCascade)
	if err != nil {
		return nil, err
	}
	e := &Engine{det: c, eyes: c, limits: DefaultLimits, gray: gocv.NewMat()}
	if cfg.Limits != nil {
		e.limits = *cfg.Limits
	}
	if cfg.YuNetModel != "" {
		y, err := NewYuNet(cfg.YuNetModel)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.det = y
	}
	if cfg.SFaceModel != "" {
		s, err := NewSFace(cfg.SFaceModel, cfg.Threshold)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.matcher = s
	} else {
		e.matcher = NewLBP()
	}
	e.threshold = e.matcher.Threshold()
	if cfg.Threshold != 0 {
		e.threshold = cfg.Threshold
	}
	return e, nil
}

// Close frees the detector and the matcher.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.det != nil && e.det != Detector(e.eyes) {
		e.det.Close()
	}
	if e.eyes != nil {
		e.eyes.Close()
	}
	if e.matcher != nil {
		e.matcher.Close()
	}
	wipeMat(&e.gray)
	e.gray.Close()
	e.det, e.eyes, e.matcher = nil, nil, nil
	return nil
}

// Threshold returns the decision threshold in force.
func (e *Engine) Threshold() float64 { return e.threshold }

// MatcherName names the matcher in use ("lbp" or "sface").
func (e *Engine) MatcherName() string { return e.matcher.Name() }

// Check is the detection and quality report on one frame.
type Check struct {
	Faces   []Face  `json:"faces"`
	Quality Quality `json:"quality"`
}

// Face returns the largest face, if any.
func (c Check) Face() (Face, bool) {
	if len(c.Faces) == 0 {
		return Face{}, false
	}
	return c.Faces[0], true
}

var errClosed = errors.New("face: engine closed")

// Check detects faces in frame and runs the quality gates on the largest.
func (e *Engine) Check(ctx context.Context, frame gocv.Mat) (Check, error) {
	if err := ctx.Err(); err != nil {
		return Check{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.check(frame)
}

func (e *Engine) check(frame gocv.Mat) (Check, error) {
	if e.det == nil {
		return Check{}, errClosed
	}
	faces, err := e.det.Detect(frame)
	if err != nil {
		return Check{}, err
	}
	g, err := toGray(frame, &e.gray)
	if err != nil {
		return Check{}, err
	}
	c := Check{Faces: faces}
	var box image.Rectangle
	if len(faces) > 0 {
		box = faces[0].Box
	}
	c.Quality = assess(g, len(faces), box, e.limits)
	return c, nil
}

// portrait finds the face of a portrait (a card photo, a still), which may
// fill the picture: it pads the picture by a quarter of its larger side so
// that the detector sees the whole head. The caller closes the padded Mat.
func (e *Engine) portrait(img gocv.Mat) (gocv.Mat, Face, error) {
	if e.det == nil {
		return gocv.Mat{}, Face{}, errClosed
	}
	if img.Empty() {
		return gocv.Mat{}, Face{}, errFrame
	}
	p := max(img.Cols(), img.Rows()) / 4
	padded := gocv.NewMat()
	gocv.CopyMakeBorder(img, &padded, p, p, p, p, gocv.BorderReplicate, color.RGBA{})
	faces, err := e.det.Detect(padded)
	if err != nil {
		padded.Close()
		return gocv.Mat{}, Face{}, err
	}
	if len(faces) == 0 {
		padded.Close()
		return gocv.Mat{}, Face{}, ErrNoFace
	}
	return padded, faces[0], nil
}

// ErrNoFace reports a picture in which no face was found.
var ErrNoFace = errors.New("face: no face found in the picture")

// PortraitTemplate finds the face of a portrait picture and returns its
// template. The caller wipes the template with Wipe when done.
func (e *Engine) PortraitTemplate(ctx context.Context, img gocv.Mat) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.portraitTemplate(img)
}

func (e *Engine) portraitTemplate(img gocv.Mat) ([]float32, error) {
	padded, f, err := e.portrait(img)
	if err != nil {
		return nil, err
	}
	defer func() { wipeMat(&padded); padded.Close() }()
	return e.matcher.Template(padded, f)
}

// Similarity compares two templates of this engine's matcher.
func (e *Engine) Similarity(a, b []float32) float64 { return e.matcher.Similarity(a, b) }

// Result is the outcome of a 1:1 comparison.
type Result struct {
	Score     float64 `json:"score"`
	Match     bool    `json:"match"`
	Threshold float64 `json:"threshold"`
	Matcher   string  `json:"matcher"`
}

// MatchPortraits compares the faces of two portrait pictures, such as a
// still of the citizen and the card photo.
func (e *Engine) MatchPortraits(ctx context.Context, a, b gocv.Mat) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ta, err := e.portraitTemplate(a)
	if err != nil {
		return Result{}, fmt.Errorf("first picture: %w", err)
	}
	defer Wipe(ta)
	tb, err := e.portraitTemplate(b)
	if err != nil {
		return Result{}, fmt.Errorf("second picture: %w", err)
	}
	defer Wipe(tb)
	return e.decide(e.matcher.Similarity(ta, tb)), nil
}

func (e *Engine) decide(score float64) Result {
	return Result{Score: score, Match: score >= e.threshold, Threshold: e.threshold, Matcher: e.matcher.Name()}
}
