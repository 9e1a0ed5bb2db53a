package emv

import (
	"bytes"
	"errors"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/internal/qr"
)

// emvcoExample is the example payload of EMV QRCPS Merchant-Presented Mode
// (Appendix A), with a Chinese merchant information language template,
// a prompt for tip and an unreserved template 91.
const emvcoExample = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A"

// dongriExample is the payload printed in the README of
// github.com/dongri/emv-qrcode for its MPM generator example, with a
// primitive UnionPay account (ID 15).
const dongriExample = "0002010102121516ABCDEF123456789052045311530339254039995802JP5906DONGRI6005TOKYO62240104hoge0504fuga0704piyo63043FE6"

// withCRC appends "6304" and the right CRC to body.
func withCRC(body string) string {
	body += "6304"
	return body + crcText(crc16String(body))
}

func TestCRC16CheckValue(t *testing.T) {
	// The check value of CRC-16/CCITT-FALSE (Greg Cook's catalogue of
	// parametrised CRC algorithms).
	if got := CRC16([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("CRC16(123456789) = %#04x, want 0x29B1", got)
	}
	if got := CRC16(nil); got != 0xFFFF {
		t.Fatalf("CRC16(nil) = %#04x, want the initial value 0xFFFF", got)
	}
	if got := crcText(0x0A5C); got != "0A5C" {
		t.Fatalf("crcText(0x0A5C) = %q", got)
	}
	if CRC16([]byte(emvcoExample[:len(emvcoExample)-4])) != 0xA13A {
		t.Fatal("CRC of the EMVCo example is not A13A")
	}
}

func TestParseEMVCoExample(t *testing.T) {
	p, err := Parse(emvcoExample)
	if err != nil {
		t.Fatal(err)
	}
	want := &Payload{
		FormatIndicator: "01",
		Initiation:      Dynamic,
		Accounts: []MerchantAccount{
			{ID: "29", GUI: "D15600000000", Fields: []Field{{"05", "A93FO3230Q"}}},
			{ID: "31", GUI: "D15600000001", Fields: []Field{{"03", "12345678"}}},
		},
		MCC:          "4111",
		Currency:     "156",
		Amount:       "23.72",
		TipIndicator: PromptTip,
		Country:      "CN",
		MerchantName: "BEST TRANSPORT",
		City:         "BEIJING",
		Additional: &AdditionalData{
			StoreLabel:          "1234",
			CustomerLabel:       "***",
			TerminalLabel:       "A6008667",
			ConsumerDataRequest: "ME",
		},
		Language:   &Language{Preference: "ZH", Name: "最佳运输", City: "北京"},
		Unreserved: []Template{{ID: "91", GUI: "A011223344998877", Fields: []Field{{"07", "12345678"}}}},
		CRC:        "A13A",
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Parse(EMVCo example) =\n%+v\nwant\n%+v", p, want)
	}
	if !p.IsDynamic() {
		t.Fatal("IsDynamic() = false for point of initiation 12")
	}

	// Build writes the objects in its own order, so the text differs
	// from the example, but it must read back the same.
	s, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(Build(example)) = %v\n%s", err, s)
	}
	q.CRC, p.CRC = "", ""
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip changed the payload:\n%+v\n%+v", p, q)
	}
}

func TestBuildMatchesPublishedPayload(t *testing.T) {
	p := Payload{
		Initiation:   Dynamic,
		Accounts:     []MerchantAccount{{ID: "15", Value: "ABCDEF1234567890"}},
		MCC:          "5311",
		Currency:     "392",
		Amount:       "999",
		Country:      "JP",
		MerchantName: "DONGRI",
		City:         "TOKYO",
		Additional:   &AdditionalData{BillNumber: "hoge", ReferenceLabel: "fuga", TerminalLabel: "piyo"},
	}
	s, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	if s != dongriExample {
		t.Fatalf("Build =\n%s\nwant\n%s", s, dongriExample)
	}
	q, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Accounts, []MerchantAccount{{ID: "15", Value: "ABCDEF1234567890"}}) || q.CRC != "3FE6" {
		t.Fatalf("Parse = %+v", q)
	}
}

func TestBuildStaticAndDynamic(t *testing.T) {
	base := Payload{
		Accounts:     []MerchantAccount{{ID: "26", GUI: "com.guichet.pay", Fields: []Field{{"01", "M12345"}}}},
		MCC:          "5411",
		Currency:     "156",
		Country:      "CN",
		MerchantName: "Épicerie du Coin",
		City:         "Nanning",
	}
	static := base
	static.Initiation = Static
	s, err := static.Build()
	if err != nil {
		t.Fatal(err)
	}
	// "Épicerie du Coin" is 16 characters but 17 bytes: the length is "16".
	if !strings.Contains(s, "5916Épicerie du Coin") {
		t.Fatalf("merchant name not counted in characters: %s", s)
	}
	if strings.Contains(s, "54") && strings.Contains(s, "5405") {
		t.Fatalf("static payload carries an amount: %s", s)
	}
	want := "00020101021126290015com.guichet.pay0106M1234552045411530315658" +
		"02CN5916Épicerie du Coin6007Nanning6304"
	if s[:len(s)-4] != want {
		t.Fatalf("Build(static) =\n%s\nwant\n%s....", s, want)
	}

	dyn := base
	dyn.Initiation = Dynamic
	dyn.Amount = Amount(1234, 2)
	dyn.Additional = &AdditionalData{BillNumber: "T-000042", TerminalLabel: "till-1"}
	s, err = dyn.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "010212") || !strings.Contains(s, "540512.34") {
		t.Fatalf("dynamic payload lacks 010212 or 540512.34: %s", s)
	}
	p, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	p.CRC = ""
	if !reflect.DeepEqual(*p, func() Payload { d := dyn; d.FormatIndicator = "01"; return d }()) {
		t.Fatalf("round trip: %+v", p)
	}
}

func TestAmount(t *testing.T) {
	for _, c := range []struct {
		minor int64
		exp   int
		want  string
	}{
		{1234, 2, "12.34"}, {5, 2, "0.05"}, {0, 2, "0.00"}, {7, 0, "7"}, {123456, 3, "123.456"}, {-1, 2, ""},
	} {
		if got := Amount(c.minor, c.exp); got != c.want {
			t.Errorf("Amount(%d, %d) = %q, want %q", c.minor, c.exp, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const head = "000201010211"
	const acct = "26190015com.guichet.pay"
	const tail = "520454115303156" + "5802CN5904Shop6007Nanning"
	valid := withCRC(head + acct + tail)
	if _, err := Parse(valid); err != nil {
		t.Fatalf("the base payload of this table does not parse: %v", err)
	}
	badCRC := valid[:len(valid)-4] + "0000"
	cases := []struct {
		name   string
		in     string
		kind   error
		offset int // -2: don't check
		want   string
	}{
		{"empty", "", ErrMissing, -2, "empty payload"},
		{"blank", " \r\n", ErrMissing, -2, "empty payload"},
		{"bad CRC", badCRC, ErrCRC, len([]rune(valid)) - 8, "payload says 0000, computed " + valid[len(valid)-4:]},
		{"lower-case CRC is accepted only if right", valid[:len(valid)-4] + "ffff", ErrCRC, -2, "payload says FFFF"},
		{"CRC not hex", valid[:len(valid)-4] + "12G4", ErrCRC, -2, `"12G4" is not four hexadecimal digits`},
		{"CRC too short", head + acct + tail + "630312A", ErrCRC, -2, "length 3, want 04"},
		{"no CRC", head + acct + tail, ErrMissing, -2, "no CRC"},
		{"CRC not last", head + "6304ABCD" + acct + tail, ErrCRC, 12, "not the last"},
		{"length past end", head + "5930Shop", ErrLength, 12, "length 30 runs past the end of the payload: 4 characters left"},
		{"truncated after ID", head + "59", ErrLength, 12, "too few for an ID and a length"},
		{"truncated mid-CRC", valid[:len(valid)-2], ErrLength, -2, "runs past the end"},
		{"non-digit ID", head + "A104Shop", ErrSyntax, 12, `ID "A1" is not two digits`},
		{"non-digit length", head + "59x4Shop", ErrSyntax, 12, `length "x4" is not two digits`},
		{"zero length", withCRC(head + "5900" + acct + tail), ErrLength, 12, "length 00"},
		{"duplicate ID", withCRC(head + acct + tail + "5904Shop"), ErrDuplicate, -2, "ID 59 occurs twice"},
		{"format indicator not first", withCRC("010211000201" + acct + tail), ErrValue, 0, "must come first"},
		{"wrong format indicator", withCRC("000202010211" + acct + tail), ErrValue, 0, `payload format indicator "02"`},
		{"bad initiation", withCRC("000201010213" + acct + tail), ErrValue, 6, "point of initiation method \"13\""},
		{"missing MCC", withCRC(head + acct + "5303156" + "5802CN5904Shop6007Nanning"), ErrMissing, -1, "no merchant category code"},
		{"missing name", withCRC(head + acct + "520454115303156" + "5802CN6007Nanning"), ErrMissing, -1, "no merchant name"},
		{"missing account", withCRC(head + tail), ErrMissing, -1, "no merchant account information"},
		{"MCC not digits", withCRC(head + acct + "52045A11" + "5303156" + "5802CN5904Shop6007Nanning"), ErrValue, 35, `"5A11" is not 4 digits`},
		{"bad amount", withCRC(head + acct + tail + "54041,50"), ErrValue, -2, "is not digits"},
		{"negative amount", withCRC(head + acct + tail + "5403-10"), ErrValue, -2, "is not digits"},
		{"amount too long", withCRC(head + acct + tail + "5414123456789012.5"), ErrLength, -2, "at most 13"},
		{"fee without indicator", withCRC(head + acct + tail + "56031.0"), ErrValue, -2, "needs indicator 55 to be 02"},
		{"indicator without fee", withCRC(head + acct + tail + "550203"), ErrMissing, -2, "no percentage (57)"},
		{"lower-case country", withCRC(head + acct + "520454115303156" + "5802cn5904Shop6007Nanning"), ErrValue, -2, "two upper-case letters"},
		{"template without GUI", withCRC(head + "26100106M12345" + tail), ErrTemplate, 12, "no globally unique identifier"},
		{"template sub-length past end", withCRC(head + "26190015com.guichet.pay" + tail + "62070120abc"), ErrTemplate, -2, "length 20 runs past the end of the template 62"},
		{"template garbage", withCRC(head + acct + tail + "6205hello"), ErrTemplate, -2, `bad syntax: ID "he" is not two digits`},
		{"template truncated", withCRC(head + acct + tail + "62070102ab1"), ErrTemplate, -2, "too few for an ID and a length"},
		{"template duplicate", withCRC(head + acct + tail + "62120102ab0102cd"), ErrTemplate, -2, "ID 01 occurs twice in the template 62"},
		{"language without name", withCRC(head + acct + tail + "64060002ZH"), ErrTemplate, -2, "no alternate merchant name"},
		{"bad consumer data request", withCRC(head + acct + tail + "62070903AXE"), ErrValue, -2, "not a set of A, M and E"},
		{"control character", withCRC(head + acct + "520454115303156" + "5802CN5904Sh\x01p6007Nanning"), ErrValue, -2, "control character U+0001"},
		{"invalid UTF-8", withCRC(head + acct + "520454115303156" + "5802CN5904Sh\xffp6007Nanning"), ErrSyntax, -2, "invalid UTF-8 byte 0xff"},
		{"account 02-25 as template", withCRC(head + "1504abcd" + tail), nil, -2, ""},
		{"too long", strings.Repeat("0", MaxLen+1), ErrTooLong, -2, "more than the 2953"},
		{"10 MB of junk", strings.Repeat("\x00\xff junk ", 1<<20), ErrTooLong, -2, "more than the 2953"},
		{"10 MB of digits", strings.Repeat("0", 10<<20), ErrTooLong, -2, "more than the 2953"},
		{"binary garbage", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ErrSyntax, 0, "is not two digits"},
		{"consumer-presented code", "hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=", ErrSyntax, 0, `ID "hQ" is not two digits`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.in)
			if c.kind == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%.60q) succeeded", c.in)
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("error %q is not %q", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if c.offset != -2 && e.Offset != c.offset {
				t.Fatalf("error %q at offset %d, want %d", err, e.Offset, c.offset)
			}
		})
	}
}

func TestParseOffsetsCountCharacters(t *testing.T) {
	// "北京" is 2 characters and 6 bytes; the bad field after it must be
	// reported at its character offset.
	body := "000201" + "64170002ZH0101X0202北京" + "59x4"
	_, err := Parse(body)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
		t.Fatalf("Parse = %v, want a syntax error", err)
	}
	if want := len([]rune("000201" + "64170002ZH0101X0202北京")); e.Offset != want {
		t.Fatalf("offset %d, want %d (characters, not bytes)", e.Offset, want)
	}
}

func TestParseTrimsScannerWhitespace(t *testing.T) {
	if _, err := Parse("  " + dongriExample + "\r\n"); err != nil {
		t.Fatal(err)
	}
}

func TestParseLenientBuildStrict(t *testing.T) {
	// A city of 16 characters, one more than the specification allows,
	// as payloads in the field have.
	s := withCRC("000201010211" + "26190015com.guichet.pay" + "520454115303156" + "5802KH5904Shop6016Banteay Meanchey")
	p, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse of a long city: %v", err)
	}
	_, err = p.Build()
	if !errors.Is(err, ErrLength) || !strings.Contains(err.Error(), "16 characters, at most 15") {
		t.Fatalf("Build of a long city = %v, want a length error", err)
	}
}

func TestBuildErrors(t *testing.T) {
	good := func() Payload {
		return Payload{
			Accounts:     []MerchantAccount{{ID: "26", GUI: "com.guichet.pay", Fields: []Field{{"01", "M1"}}}},
			MCC:          "5411",
			Currency:     "156",
			Country:      "CN",
			MerchantName: "Shop",
			City:         "Nanning",
		}
	}
	if _, err := good().Build(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(*Payload)
		kind error
		want string
	}{
		{"no accounts", func(p *Payload) { p.Accounts = nil }, ErrMissing, "no merchant account information"},
		{"account ID out of range", func(p *Payload) { p.Accounts[0].ID = "52" }, ErrValue, "not in 02-51"},
		{"duplicate account", func(p *Payload) { p.Accounts = append(p.Accounts, p.Accounts[0]) }, ErrDuplicate, "given twice"},
		{"template with value", func(p *Payload) { p.Accounts[0].Value = "x" }, ErrValue, "not Value"},
		{"primitive with GUI", func(p *Payload) { p.Accounts[0].ID = "04" }, ErrValue, "primitive"},
		{"no GUI", func(p *Payload) { p.Accounts[0].GUI = "" }, ErrTemplate, "no globally unique identifier"},
		{"GUI too long", func(p *Payload) { p.Accounts[0].GUI = strings.Repeat("g", 33) }, ErrLength, "33 characters, at most 32"},
		{"sub-field 00 in fields", func(p *Payload) { p.Accounts[0].Fields = []Field{{"00", "x"}} }, ErrTemplate, "not in 01-99"},
		{"template over 99", func(p *Payload) { p.Accounts[0].Fields = []Field{{"01", strings.Repeat("x", 90)}} }, ErrLength, "at most 99"},
		{"bad currency", func(p *Payload) { p.Currency = "CNY" }, ErrValue, `"CNY" is not 3 digits`},
		{"amount with comma", func(p *Payload) { p.Amount = "12,34" }, ErrValue, "is not digits"},
		{"two decimal marks", func(p *Payload) { p.Amount = "1.2.3" }, ErrValue, "is not digits"},
		{"name too long", func(p *Payload) { p.MerchantName = strings.Repeat("n", 26) }, ErrLength, "26 characters, at most 25"},
		{"name missing", func(p *Payload) { p.MerchantName = "" }, ErrMissing, "no merchant name"},
		{"city missing", func(p *Payload) { p.City = "" }, ErrMissing, "no merchant city"},
		{"newline in name", func(p *Payload) { p.MerchantName = "Shop\n" }, ErrValue, "control character"},
		{"bad UTF-8 in city", func(p *Payload) { p.City = "Nan\xffning" }, ErrSyntax, "not UTF-8"},
		{"other shadows named field", func(p *Payload) { p.Additional = &AdditionalData{BillNumber: "1", Other: []Field{{"01", "2"}}} }, ErrTemplate, "given twice"},
		{"channel not 3", func(p *Payload) { p.Additional = &AdditionalData{MerchantChannel: "12"} }, ErrLength, `merchant channel "12" is not 3 characters`},
		{"language without preference", func(p *Payload) { p.Language = &Language{Name: "商店"} }, ErrTemplate, "no language preference"},
		{"RFU ID out of range", func(p *Payload) { p.RFU = []Field{{"80", "x"}} }, ErrValue, "not in 65-79"},
		{"unreserved ID out of range", func(p *Payload) { p.Unreserved = []Template{{ID: "79", GUI: "g"}} }, ErrValue, "not in 80-99"},
		{"percentage fee too long", func(p *Payload) { p.TipIndicator = PercentageFee; p.FeePercentage = "100.00" }, ErrLength, "at most 5"},
		{"too long for a QR code", func(p *Payload) {
			for i := 80; i <= 99; i++ {
				p.Unreserved = append(p.Unreserved, Template{ID: twoDigits(i), GUI: "g", Fields: []Field{{"01", strings.Repeat("x", 90)}}})
			}
			for i := 65; i <= 79; i++ {
				p.RFU = append(p.RFU, Field{twoDigits(i), strings.Repeat("y", 99)})
			}
		}, ErrTooLong, "more than the 2953"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good()
			c.mod(&p)
			s, err := p.Build()
			if err == nil {
				t.Fatalf("Build succeeded: %s", s)
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Build = %q, want %v saying %q", err, c.kind, c.want)
			}
		})
	}
}

func TestWritePNGDecodesBack(t *testing.T) {
	var buf bytes.Buffer
	if err := qr.WritePNG(&buf, emvcoExample, 6); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_CHARACTER_SET: "UTF-8"})
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	if res.GetText() != emvcoExample {
		t.Fatalf("decoded %q, want the payload", res.GetText())
	}
	if err := qr.WritePNG(&buf, "x", 0); err == nil {
		t.Fatal("WritePNG accepted a module width of 0")
	}
}
