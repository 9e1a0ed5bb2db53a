//go:build !noopencv

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/guichet/guichet/device/codereader/codescan"
	"gocv.io/x/gocv"
)

func init() {
	register("decode", "decode QR codes and barcodes in image files", runDecode)
}

// decodeLine is one image's result in --json output.
type decodeLine struct {
	File  string       `json:"file"`
	Codes []decodeCode `json:"codes"`
	MS    float64      `json:"ms"`
	Error string       `json:"error,omitempty"`
}

type decodeCode struct {
	Format string `json:"format"`
	Text   string `json:"text"`
}

func runDecode(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "decode", "[--json] [--fast] FILE...")
	asJSON := fs.Bool("json", false, "print one JSON object per image")
	fast := fs.Bool("fast", false, "decode as the camera does (no WeChatQRCode pass): faster, reads fewer damaged QR codes")
	formats := fs.String("formats", "", "comma-separated formats to read (default QR_CODE,CODE_128,EAN_13,EAN_8,UPC_A)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no image files", errUsage)
	}
	opts := codescan.Options{Thorough: !*fast}
	if *formats != "" {
		opts.Formats = strings.Split(*formats, ",")
	}
	dec, err := codescan.NewDecoder(opts)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	defer dec.Close()
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	failed := 0
	for _, file := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := decodeLine{File: file, Codes: []decodeCode{}}
		img := gocv.IMRead(file, gocv.IMReadColor)
		if img.Empty() {
			line.Error = "cannot read image"
		} else {
			start := time.Now()
			syms, err := dec.Decode(img)
			line.MS = float64(time.Since(start).Microseconds()) / 1000
			if err != nil {
				line.Error = err.Error()
			}
			for _, s := range syms {
				line.Codes = append(line.Codes, decodeCode{Format: s.Format, Text: s.Text})
			}
		}
		img.Close()
		if line.Error != "" {
			failed++
		}
		if *asJSON {
			if err := enc.Encode(line); err != nil {
				return err
			}
			continue
		}
		var parts []string
		for _, c := range line.Codes {
			parts = append(parts, fmt.Sprintf("%s %q", c.Format, c.Text))
		}
		switch {
		case line.Error != "":
			fmt.Fprintf(e.stdout, "%s: error: %s\n", file, line.Error)
		case len(parts) == 0:
			fmt.Fprintf(e.stdout, "%s: no code (%.1f ms)\n", file, line.MS)
		default:
			fmt.Fprintf(e.stdout, "%s: %s (%.1f ms)\n", file, strings.Join(parts, ", "), line.MS)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be decoded", failed, fs.NArg())
	}
	return nil
}
