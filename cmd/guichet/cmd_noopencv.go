//go:build noopencv

package main

import (
	"context"
	"fmt"
)

// errNoOpenCV is what the commands that read images answer in a build
// without OpenCV (tag noopencv).
var errNoOpenCV = fmt.Errorf("this guichet was built without OpenCV (build tag noopencv): decode and face need the full build")

func init() {
	// The commands stay listed, so that who types them learns why they
	// do nothing here.
	register("decode", "decode QR codes and barcodes in image files (needs the build with OpenCV)", noOpenCV)
	register("face", "check a face picture, or match two (needs the build with OpenCV)", noOpenCV)
}

func noOpenCV(context.Context, *env, []string) error { return errNoOpenCV }
