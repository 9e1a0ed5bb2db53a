package sim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/device/devicetest"
	"github.com/guichet/guichet/device/printer"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, printer.Drivers, "sim", []devicetest.OptionCase{
		{Name: "unknown field", Options: "colums: 32", Path: "options.colums", Reason: "unknown field"},
		{Name: "wrong type", Options: "columns: wide", Path: "options.columns", Reason: "cannot unmarshal"},
		{Name: "columns", Options: "columns: 32"},
		{Name: "empty", Options: ""},
	})
}

func TestKeepsSlipsAndOpenings(t *testing.T) {
	ctx := context.Background()
	p := New(Options{Columns: 20})
	d := printer.Document{Lines: []printer.Line{
		{Text: "小店", Align: printer.Center, Big: true},
		{Text: "合计 CNY", Right: "12.34"},
		{QR: "pay-1"},
	}}
	if err := p.Print(ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Lines[0].Text = "mutated by the caller"
	want := "   小店\n合计 CNY       12.34\n[QR pay-1]\n"
	if got := p.Last(); got != want {
		t.Fatalf("slip\n%q\nwant\n%q", got, want)
	}
	if err := p.Print(ctx, printer.Document{Lines: []printer.Line{{Text: "a\x1bp0"}}}); !errors.Is(err, printer.ErrInvalid) {
		t.Fatalf("control character: %v", err)
	}
	for range Keep + 3 {
		p.Print(ctx, printer.Document{Lines: []printer.Line{{Text: "x"}}})
	}
	if n := len(p.Slips()); n != Keep {
		t.Fatalf("kept %d slips", n)
	}
	p.OpenDrawer(ctx)
	if p.Openings() != 1 || !strings.HasPrefix(p.Last(), "x") {
		t.Fatalf("openings %d, last %q", p.Openings(), p.Last())
	}
}
