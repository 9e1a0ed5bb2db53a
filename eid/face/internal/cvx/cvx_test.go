package cvx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

func TestNumThreads(t *testing.T) {
	old := NumThreads()
	defer SetNumThreads(old)
	SetNumThreads(1)
	if got := NumThreads(); got != 1 {
		t.Fatalf("NumThreads after SetNumThreads(1) = %d", got)
	}
}

func TestYuNetBadModel(t *testing.T) {
	if _, err := NewYuNet(filepath.Join(t.TempDir(), "missing.onnx"), 0.9, 0.3, 100); err == nil {
		t.Fatal("NewYuNet of a missing file: no error")
	}
	junk := filepath.Join(t.TempDir(), "junk.onnx")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a model ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewYuNet(junk, 0.9, 0.3, 100); err == nil {
		t.Fatal("NewYuNet of a junk file: no error")
	}
}

func TestYuNetWrongFrame(t *testing.T) {
	y := &YuNet{}
	m := gocv.NewMat()
	defer m.Close()
	if _, err := y.Detect(m); err == nil {
		t.Fatal("Detect on a closed detector: no error")
	}
}
