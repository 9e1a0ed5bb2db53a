package printer

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Line
		ok   bool
	}{
		{"text", Line{Text: "小店 Café", Right: "12.34"}, true},
		{"empty line", Line{}, true},
		{"QR", Line{QR: "pay-1"}, true},
		{"escape in text", Line{Text: "a\x1bp\x00\x19\xfa"}, false},
		{"escape in right", Line{Text: "a", Right: "\x1dV\x00"}, false},
		{"newline", Line{Text: "a\nb"}, false},
		{"C1 control", Line{Text: "a\u0085"}, false},
		{"DEL", Line{Text: "a\x7f"}, false},
		{"not UTF-8", Line{Text: "\xff"}, false},
		{"QR and text", Line{QR: "x", Text: "y"}, false},
		{"QR too long", Line{QR: strings.Repeat("x", MaxQR+1)}, false},
		{"QR not UTF-8", Line{QR: "\xc3"}, false},
		{"text too long", Line{Text: strings.Repeat("x", MaxText+1)}, false},
		{"alignment", Line{Text: "x", Align: 3}, false},
	} {
		err := Document{Lines: []Line{c.l}}.Validate()
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := (Document{Lines: make([]Line, MaxLines+1)}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("too many lines: %v", err)
	}
}

func TestLayout(t *testing.T) {
	for _, c := range []struct {
		l    Line
		cols int
		want []string
	}{
		{Line{Text: "Total", Right: "12.34"}, 16, []string{"Total      12.34"}},
		{Line{Text: "合计", Right: "12.34"}, 16, []string{"合计       12.34"}},
		{Line{Text: "Café", Right: "1"}, 8, []string{"Café  1"}}, // é is double-byte on the printer
		{Line{Text: "Total", Right: "12.34", Big: true}, 24, []string{"Total  12.34"}},
		{Line{Text: "a long label", Right: "12.34"}, 12, []string{"a long", " label 12.34"}},
		{Line{Text: "x", Right: "amount wider"}, 6, []string{"x", "amount wider"}},
		{Line{Text: "abc", Align: Center}, 9, []string{"   abc"}},
		{Line{Text: "abc", Align: Right}, 9, []string{"      abc"}},
		{Line{Text: "abcdefgh"}, 3, []string{"abc", "def", "gh"}},
		{Line{Text: "小店小店"}, 5, []string{"小店", "小店"}},
		{Line{QR: "x"}, 5, nil},
		{Line{Text: "x"}, 0, []string{"x"}},
	} {
		got := Layout(c.l, c.cols)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%+v in %d: %q, want %q", c.l, c.cols, got, c.want)
		}
	}
}
