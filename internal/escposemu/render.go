package escposemu

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"sync"

	"github.com/golang/freetype/truetype"
	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"github.com/guichet/guichet/internal/qr"
)

// FontPath is the font slips are rendered in: WenQuanYi Micro Hei
// (Debian's fonts-wqy-microhei), which has Latin letters and the Chinese
// ideographs of GB18030's common range, as a printer's font ROM does.
const FontPath = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

// The printer's geometry, in dots at 203 dpi (8 dots a millimetre).
const (
	// Dots80 is the printable width of 80 mm paper: 48 characters of
	// font A.
	Dots80 = 576
	// Dots58 is that of 58 mm paper: 32 characters.
	Dots58 = 384
	cellW  = 12 // font A: 12x24 dots; a Chinese character 24x24
	cellH  = 24
	lineH  = 30 // the default line spacing, 1/6 inch
	margin = 16 // white around the printable width, as on the paper
)

var (
	fontOnce sync.Once
	fontTT   *truetype.Font
	fontErr  error
)

func loadFont() (*truetype.Font, error) {
	fontOnce.Do(func() {
		b, err := os.ReadFile(FontPath)
		if err != nil {
			fontErr = fmt.Errorf("escposemu: font (Debian package fonts-wqy-microhei): %w", err)
			return
		}
		if fontTT, err = truetype.Parse(b); err != nil {
			fontErr = fmt.Errorf("escposemu: font %s: %w", FontPath, err)
		}
	})
	return fontTT, fontErr
}

// Render draws s as the printer prints it on paper dots wide (Dots80,
// Dots58), with a white margin around: black on white, each character in
// its cell of font A (12x24 dots, 24x24 for one outside ASCII, as the
// Chinese mode prints it), scaled by GS !, bold drawn twice a dot apart,
// text wrapped at the paper's edge, QR codes drawn from their data by
// internal/qr (level M: the level GS ( k asked for is recorded in the
// Item, not drawn) at their module size, with the quiet zone.
func Render(s Slip, dots int) (*image.Gray, error) {
	if dots < cellW*2 || dots > 4096 {
		return nil, fmt.Errorf("escposemu: paper of %d dots", dots)
	}
	f, err := loadFont()
	if err != nil {
		return nil, err
	}
	type placed struct {
		it   Item
		runs [][]rune // text wrapped into lines
		code *qr.Matrix
		h    int
	}
	var items []placed
	total := 2 * margin
	for _, it := range s.Items {
		p := placed{it: it}
		if it.QR != "" {
			m, err := qr.Encode(it.QR)
			if err != nil {
				return nil, fmt.Errorf("escposemu: QR %q: %w", it.QR, err)
			}
			side := (m.Size() + 2*qr.QuietZone) * it.QRSize
			if side > dots {
				return nil, errors.New("escposemu: QR code wider than the paper")
			}
			p.code, p.h = m, side
		} else {
			p.runs = wrapCells(it.Text, dots/(cellW*max(it.Width, 1)))
			p.h = len(p.runs) * (lineH - cellH + cellH*max(it.Height, 1))
		}
		items = append(items, p)
		total += p.h
	}
	img := image.NewGray(image.Rect(0, 0, dots+2*margin, total))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	y := margin
	for _, p := range items {
		if p.code != nil {
			x := place(p.it.Align, p.h, dots)
			drawCode(img, p.code, p.it.QRSize, image.Pt(x, y))
			y += p.h
			continue
		}
		w, h := max(p.it.Width, 1), max(p.it.Height, 1)
		face := truetype.NewFace(f, &truetype.Options{Size: float64(20 * h), DPI: 72, Hinting: font.HintingFull})
		for _, line := range p.runs {
			x := place(p.it.Align, cells(line)*cellW*w, dots)
			base := y + cellH*h - 5*h // the baseline, above the descenders
			for _, r := range line {
				cw := cellW * w * cells([]rune{r})
				adv, _ := face.GlyphAdvance(r)
				gx := x + (cw-adv.Round())/2
				for pass := range btoi(p.it.Bold) + 1 {
					d := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(gx+pass, base)}
					d.DrawString(string(r))
				}
				x += cw
			}
			y += lineH - cellH + cellH*h
		}
		face.Close()
	}
	return img, nil
}

// place returns the left edge of something w dots wide aligned on paper
// dots wide, on the image with its margin.
func place(a Align, w, dots int) int {
	switch a {
	case Center:
		return margin + max((dots-w)/2, 0)
	case Right:
		return margin + max(dots-w, 0)
	}
	return margin
}

// cells returns the cells of font A that runes take: in Chinese mode
// every character outside ASCII is a double-byte one, printed in a 24x24
// cell.
func cells(runes []rune) int {
	n := 0
	for _, r := range runes {
		n++
		if r >= 0x80 {
			n++
		}
	}
	return n
}

// wrapCells cuts s into lines of at most cols cells, as the printer wraps
// at the paper's edge; it returns at least one line.
func wrapCells(s string, cols int) [][]rune {
	var lines [][]rune
	var cur []rune
	for _, r := range s {
		if cells(cur)+cells([]rune{r}) > cols && len(cur) > 0 {
			lines = append(lines, cur)
			cur = nil
		}
		cur = append(cur, r)
	}
	return append(lines, cur)
}

func drawCode(img *image.Gray, m *qr.Matrix, module int, at image.Point) {
	q := qr.QuietZone * module
	for y := range m.Size() {
		for x := range m.Size() {
			if m.Dark(x, y) {
				r := image.Rect(0, 0, module, module).Add(at.Add(image.Pt(q+x*module, q+y*module)))
				draw.Draw(img, r, &image.Uniform{C: color.Black}, image.Point{}, draw.Src)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
