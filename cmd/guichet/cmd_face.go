//go:build !noopencv

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/internal/facescene"
)

func init() {
	register("face", "check a face picture, or match two (face check IMG | face match IMG1 IMG2 | face scene ...)", runFace)
}

// runFace runs `face check IMG` (detection and quality) or `face match IMG1
// IMG2` (1:1 comparison of two portraits), printing JSON. Pictures are read
// into memory only; nothing of them is written or logged.
func runFace(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "scene" {
		return runFaceScene(e, args[1:])
	}
	fs := newFlags(e, "face", "check IMG | match IMG1 IMG2")
	var cfg face.Config
	fs.StringVar(&cfg.YuNetModel, "yunet", "", "YuNet ONNX `MODEL` to detect faces (default: Haar cascade)")
	fs.StringVar(&cfg.SFaceModel, "sface", "", "SFace-compatible ONNX `MODEL` to match faces (default: LBP)")
	fs.Float64Var(&cfg.Threshold, "threshold", 0, "decision threshold on the score (default: the matcher's)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("%w: want check IMG or match IMG1 IMG2", errUsage)
	}
	switch {
	case rest[0] == "check" && len(rest) == 2:
	case rest[0] == "match" && len(rest) == 3:
	default:
		return fmt.Errorf("%w: want check IMG or match IMG1 IMG2", errUsage)
	}
	imgs := make([]gocv.Mat, 0, 2)
	defer func() {
		for _, m := range imgs {
			m.Close()
		}
	}()
	for _, p := range rest[1:] {
		m := gocv.IMRead(p, gocv.IMReadColor)
		if m.Empty() {
			m.Close()
			if _, err := os.Stat(p); err != nil {
				return err
			}
			return fmt.Errorf("%s: not an image OpenCV can read", p)
		}
		imgs = append(imgs, m)
	}
	eng, err := face.Open(cfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	enc := json.NewEncoder(e.stdout)
	if rest[0] == "check" {
		c, err := eng.Check(ctx, imgs[0])
		if err != nil {
			return err
		}
		return enc.Encode(struct {
			face.Check
			OK bool `json:"ok"`
		}{c, c.Quality.OK()})
	}
	r, err := eng.MatchPortraits(ctx, imgs[0], imgs[1])
	if err != nil {
		return err
	}
	return enc.Encode(r)
}

// runFaceScene writes the frames of an ORL subject looking at the camera and
// turning, and the matching card photo: the simulated face camera and card
// of the demo's e-ID counter.
func runFaceScene(e *env, args []string) error {
	fs := newFlags(e, "face scene", "--orl DIR --subject N --out DIR [--photo FILE]")
	orl := fs.String("orl", "", "the ORL face set `DIR` (../shared/testdata/faces/orl)")
	subject := fs.Int("subject", 5, "ORL subject `N` (1-40)")
	out := fs.String("out", "", "`DIR` to write the frames into")
	photo := fs.String("photo", "", "also write the subject's card photo (PNG) to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *orl == "" || *out == "" || *subject < 1 || *subject > 40 {
		return fmt.Errorf("%w: --orl, --out and a --subject from 1 to 40 are needed", errUsage)
	}
	paths, err := facescene.Write(*orl, *subject, *out)
	if err != nil {
		return err
	}
	if *photo != "" {
		if err := facescene.WritePhoto(*orl, *subject, 1, *photo); err != nil {
			return err
		}
	}
	return json.NewEncoder(e.stdout).Encode(map[string]any{"frames": paths, "photo": *photo})
}
