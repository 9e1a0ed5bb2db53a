package codescan

// ValidText reports whether text is well formed for format: for EAN-13,
// EAN-8, UPC-A and UPC-E, the right number of digits with a correct GS1
// check digit (GS1 General Specifications section 7.9.1); for other
// formats, any non-empty text.
func ValidText(format, text string) bool {
	switch format {
	case EAN13:
		return len(text) == 13 && gtinOK(text)
	case EAN8:
		return len(text) == 8 && gtinOK(text)
	case UPCA:
		return len(text) == 12 && gtinOK(text)
	case UPCE:
		return len(text) == 8 && (text[0] == '0' || text[0] == '1') && gtinOK(expandUPCE(text))
	}
	return text != ""
}

// gtinOK checks the mod-10 check digit of a GTIN given as digits, check
// digit last: weights 3 and 1 alternate from the digit next to it.
func gtinOK(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	sum := 0
	for i := range len(digits) - 1 {
		c := digits[len(digits)-2-i]
		if c < '0' || c > '9' {
			return false
		}
		w := 1
		if i%2 == 0 {
			w = 3
		}
		sum += int(c-'0') * w
	}
	last := digits[len(digits)-1]
	return last >= '0' && last <= '9' && int(last-'0') == (10-sum%10)%10
}

// expandUPCE turns an 8-digit UPC-E code (number system, six digits,
// check digit) into its 12-digit UPC-A equivalent, whose check digit is
// the one UPC-E carries.
func expandUPCE(e string) string {
	ns, d, check := e[0:1], e[1:7], e[7:8]
	var body string
	switch d[5] {
	case '0', '1', '2':
		body = d[0:2] + d[5:6] + "0000" + d[2:5]
	case '3':
		body = d[0:3] + "00000" + d[3:5]
	case '4':
		body = d[0:4] + "00000" + d[4:5]
	default:
		body = d[0:5] + "0000" + d[5:6]
	}
	return ns + body + check
}
