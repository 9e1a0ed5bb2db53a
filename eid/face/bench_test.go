package face

import (
	"context"
	"runtime"
	"testing"

	"github.com/guichet/guichet/eid/face/internal/cvx"
	"github.com/guichet/guichet/internal/benchfig"
)

// BenchmarkPipeline reports the time of detection, quality gates and a 1:1
// match of a live frame (an ORL face scaled 2.5× in a 640×480 scene) with a
// card template, on one core, next to detection alone.
func BenchmarkPipeline(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	old := cvx.NumThreads()
	defer cvx.SetNumThreads(old)
	e, err := Open(Config{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	set := loadORL(b)
	frame := place(set[0][0], orlScale, sceneCentre)
	defer frame.Close()
	ctx := context.Background()
	card, err := e.PortraitTemplate(ctx, set[0][1])
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		detect := benchfig.MedianMs(21, func() {
			if fs, err := e.det.Detect(frame); err != nil || len(fs) != 1 {
				b.Fatalf("detect: %d faces, %v", len(fs), err)
			}
		})
		pipeline := benchfig.MedianMs(21, func() {
			c, err := e.Check(ctx, frame)
			if err != nil || !c.Quality.OK() {
				b.Fatalf("check: %+v, %v", c.Quality, err)
			}
			f, _ := c.Face()
			tpl, err := e.matcher.Template(frame, f)
			if err != nil {
				b.Fatal(err)
			}
			_ = e.decide(e.matcher.Similarity(tpl, card))
			Wipe(tpl)
		})
		benchfig.Report(b, "face_detect_ms_640x480", detect, "ms")
		benchfig.Report(b, "face_pipeline_ms_640x480", pipeline, "ms")
	}
}

// BenchmarkORLEER reports the equal error rate of the default matcher on
// all ORL pairs.
func BenchmarkORLEER(b *testing.B) {
	e, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for i := 0; i < b.N; i++ {
		ps := orlScores(b, e)
		eer, _ := ps.eer()
		benchfig.Report(b, "face_eer_orl", 100*eer, "%")
	}
}
