package face

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"

	"gocv.io/x/gocv"
)

// Matcher turns a detected face into a template and compares templates 1:1.
// Templates are biometric data: they live in memory for one session and
// are wiped by the caller with Wipe. A Matcher is not safe for concurrent
// use.
type Matcher interface {
	// Name says which method made the templates ("lbp", "sface").
	Name() string
	// Template describes face f of frame, an 8-bit grey or BGR image.
	Template(frame gocv.Mat, f Face) ([]float32, error)
	// Similarity compares two templates of this matcher: higher is more
	// alike, and Threshold is where a pair is declared the same person.
	Similarity(a, b []float32) float64
	// Threshold is the default decision threshold on Similarity.
	Threshold() float64
	Close() error
}

// LBPThreshold is the default decision threshold of the LBP matcher, chosen
// on the ORL set (docs/faces.md) for a false accept rate of at most 1% there.
const LBPThreshold = 0.7925

// LBP is the matcher that needs no model file: uniform LBP histograms over a
// grid of cells of the face aligned by its eyes, compared cell by cell with
// a small spatial tolerance (see lbpTemplate).
type LBP struct {
	gray gocv.Mat
}

// NewLBP returns the LBP matcher.
func NewLBP() *LBP { return &LBP{gray: gocv.NewMat()} }

// Name returns "lbp".
func (*LBP) Name() string { return "lbp" }

// Template aligns f and describes it.
func (l *LBP) Template(frame gocv.Mat, f Face) ([]float32, error) {
	g, err := toGray(frame, &l.gray)
	if err != nil {
		return nil, err
	}
	pix, err := align(g, f)
	if err != nil {
		return nil, err
	}
	defer clear(pix)
	return lbpTemplate(pix, cropW, cropH, lbpDefault)
}

// Similarity returns the elastic Bhattacharyya similarity in [0, 1].
func (*LBP) Similarity(a, b []float32) float64 { return lbpSimilarity(a, b, lbpDefault) }

// Threshold returns LBPThreshold.
func (*LBP) Threshold() float64 { return LBPThreshold }

// Close wipes and frees the matcher's buffer.
func (l *LBP) Close() error {
	wipeMat(&l.gray)
	l.gray.Close()
	return nil
}

// SFaceThreshold is the cosine similarity above which OpenCV's model zoo
// declares two SFace embeddings the same person (face_recognition_sface,
// "cosine similarity threshold 0.363"). It has not been measured here: no
// model file is available on the build machine.
const SFaceThreshold = 0.363

// sfaceEyes are where the ArcFace/SFace 112×112 alignment template puts the
// eye centres (the first two of its five reference landmarks).
var sfaceEyes = [2][2]float64{{38.2946, 51.6963}, {73.5318, 51.5014}}

// SFace is the matcher backed by an ONNX embedding network compatible with
// SFace (OpenCV model zoo, face_recognition_sface): a 1×3×112×112 BGR input
// of the face aligned on the ArcFace template, a 128-d output compared by
// cosine similarity. It runs through OpenCV's DNN module.
type SFace struct {
	net       gocv.Net
	bgr       gocv.Mat
	threshold float64
}

// NewSFace loads the ONNX model at path. threshold 0 selects SFaceThreshold.
func NewSFace(path string, threshold float64) (*SFace, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("face: sface model: %w", err)
	}
	net := gocv.ReadNetFromONNX(path)
	if net.Empty() {
		return nil, fmt.Errorf("face: sface model %s: OpenCV cannot read it as ONNX", path)
	}
	if threshold == 0 {
		threshold = SFaceThreshold
	}
	return &SFace{net: net, bgr: gocv.NewMat(), threshold: threshold}, nil
}

// Name returns "sface".
func (*SFace) Name() string { return "sface" }

// Template aligns f to 112×112 on its eyes and returns the network's output,
// normalised to unit length.
func (s *SFace) Template(frame gocv.Mat, f Face) ([]float32, error) {
	if frame.Empty() {
		return nil, errFrame
	}
	src := frame
	switch frame.Type() {
	case gocv.MatTypeCV8UC3:
	case gocv.MatTypeCV8UC1:
		gocv.CvtColor(frame, &s.bgr, gocv.ColorGrayToBGR)
		src = s.bgr
	default:
		return nil, errFrame
	}
	crop, err := warpFace(src, f, 112, 112, sfaceEyes[0], sfaceEyes[1])
	if err != nil {
		return nil, err
	}
	defer func() { wipeMat(&crop); crop.Close() }()
	// As cv::FaceRecognizerSF::feature: no scaling, no mean, BGR to RGB.
	blob := gocv.BlobFromImage(crop, 1, image.Pt(112, 112), gocv.NewScalar(0, 0, 0, 0), true, false)
	defer blob.Close()
	s.net.SetInput(blob, "")
	out := s.net.Forward("")
	defer out.Close()
	if out.Empty() || out.Total() == 0 {
		return nil, errors.New("face: sface: the network returned nothing")
	}
	v, err := out.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("face: sface output: %w", err)
	}
	tpl := make([]float32, len(v))
	var n float64
	for i, x := range v {
		tpl[i] = x
		n += float64(x) * float64(x)
	}
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return nil, errors.New("face: sface: degenerate embedding")
	}
	n = math.Sqrt(n)
	for i := range tpl {
		tpl[i] = float32(float64(tpl[i]) / n)
	}
	return tpl, nil
}

// Similarity returns the cosine similarity of two unit-length embeddings,
// or -1 when their lengths differ.
func (*SFace) Similarity(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return -1
	}
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

// Threshold returns the configured threshold.
func (s *SFace) Threshold() float64 { return s.threshold }

// Close frees the network.
func (s *SFace) Close() error {
	wipeMat(&s.bgr)
	s.bgr.Close()
	return s.net.Close()
}

// Wipe overwrites a template with zeros; sessions call it on Close.
func Wipe(tpl []float32) { clear(tpl) }
