// Package paycode classifies and validates the payment codes that customers
// show at the till, read by a camera or a hand-held scanner:
//
//   - WeChat Pay-style codes: 18 digits starting 10 to 15;
//   - Alipay-style codes: 16 to 24 digits starting 25 to 30;
//   - UnionPay-style codes: 19 digits starting 62;
//   - EMVCo consumer-presented QR codes (EMV QRCPS Consumer-Presented Mode
//     v1.0): base64 of BER-TLV data objects, see ParseCPM.
//
// UnionPay codes get no Luhn check. The 19-digit code that a UnionPay
// wallet shows (the "C2B code" of the UnionPay QR code payment
// specification) is a one-time token that the wallet's back end issues and
// later resolves, not a card number; public material documents no check
// digit for it, and a check that turned away a valid token would cost the
// sale while the back end verifies the token anyway. The digit-code rules
// are the same kind of prefix-and-length screening: they catch misreads
// and codes of the wrong kind, and only the payment back end can say
// whether a code is live.
//
// Codes are bearer tokens and the consumer-presented payload carries an
// account number: neither goes into a log.
package paycode

import (
	"fmt"
	"strings"
)

// Scheme names the kind of payment code.
type Scheme string

// The schemes Classify tells apart.
const (
	Unknown   Scheme = "unknown"
	WeChatPay Scheme = "wechat_pay"
	Alipay    Scheme = "alipay"
	UnionPay  Scheme = "unionpay"
	EMVCPM    Scheme = "emvco_cpm"
)

// MaxLen is the longest code, in bytes after trimming, that Classify
// accepts: 2953 is the byte capacity of the largest QR code (version 40,
// level L, ISO/IEC 18004:2015 Table 7), so nothing longer was scanned.
const MaxLen = 2953

// Code is a classified payment code.
type Code struct {
	Scheme Scheme `json:"scheme"`
	// Text is the code as read, without surrounding white space. It is a
	// bearer token: never log it.
	Text string `json:"-"`
	// CPM is the decoded payload when Scheme is EMVCPM.
	CPM *CPM `json:"-"`
}

// Error says why a code is not valid. Scheme is the scheme the code looks
// like, or Unknown.
type Error struct {
	Scheme Scheme
	Reason string
}

// Error says what is wrong.
func (e *Error) Error() string {
	if e.Scheme == Unknown {
		return "paycode: " + e.Reason
	}
	return fmt.Sprintf("paycode: %s: %s", e.Scheme, e.Reason)
}

func invalid(s Scheme, format string, args ...any) (Code, error) {
	return Code{Scheme: s}, &Error{Scheme: s, Reason: fmt.Sprintf(format, args...)}
}

// Classify tells which scheme code belongs to and whether it is well
// formed. White space around it, such as the newline of a keyboard-wedge
// scanner, is ignored. On error the returned Code still carries the
// scheme the code looks like (or Unknown), and the error is an *Error.
func Classify(code string) (Code, error) {
	if len(code) > MaxLen+64 {
		// Refuse before trimming, so that junk costs nothing.
		return invalid(Unknown, "%d bytes, more than the %d a QR code can hold", len(code), MaxLen)
	}
	s := strings.TrimSpace(code)
	switch {
	case s == "":
		return invalid(Unknown, "empty code")
	case len(s) > MaxLen:
		return invalid(Unknown, "%d bytes, more than the %d a QR code can hold", len(s), MaxLen)
	case allDigits(s):
		return classifyDigits(s)
	case strings.HasPrefix(s, "hQ"):
		// Base64 of a first byte 0x85: the payload format indicator.
		c, err := ParseCPM(s)
		if err != nil {
			return invalid(EMVCPM, "%v", err)
		}
		return Code{Scheme: EMVCPM, Text: s, CPM: c}, nil
	case strings.HasPrefix(s, "000201"):
		return invalid(Unknown, "a merchant-presented EMV QR code (starts 000201), not a customer's payment code")
	case hasPrefixFold(s, "http://") || hasPrefixFold(s, "https://"):
		return invalid(Unknown, "a URL, not a payment code")
	case s[0] >= '0' && s[0] <= '9':
		i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		return invalid(Unknown, "character %q at position %d is not a digit, and digit payment codes are all digits", []rune(s[i:])[0], i)
	}
	return invalid(Unknown, "neither all digits (WeChat Pay, Alipay, UnionPay) nor an EMV consumer-presented QR code (base64 starting \"hQ\")")
}

// classifyDigits applies the prefix and length rules to an all-digit code.
func classifyDigits(s string) (Code, error) {
	if len(s) < 2 {
		return invalid(Unknown, "1 digit, too short for any payment code")
	}
	prefix := int(s[0]-'0')*10 + int(s[1]-'0')
	n := len(s)
	switch {
	case prefix >= 10 && prefix <= 15:
		if n != 18 {
			return invalid(WeChatPay, "%d digits; WeChat Pay codes (prefix 10-15) have 18", n)
		}
		return Code{Scheme: WeChatPay, Text: s}, nil
	case prefix >= 25 && prefix <= 30:
		if n < 16 || n > 24 {
			return invalid(Alipay, "%d digits; Alipay codes (prefix 25-30) have 16 to 24", n)
		}
		return Code{Scheme: Alipay, Text: s}, nil
	case prefix == 62:
		if n != 19 {
			return invalid(UnionPay, "%d digits; UnionPay codes (prefix 62) have 19", n)
		}
		return Code{Scheme: UnionPay, Text: s}, nil
	}
	return invalid(Unknown, "prefix %02d belongs to no scheme (WeChat Pay 10-15, Alipay 25-30, UnionPay 62)", prefix)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
