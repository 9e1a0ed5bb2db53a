package emv

// crcTable holds CRC-16/CCITT-FALSE (polynomial 0x1021, MSB first) for
// every byte value, so that CRC16 costs one lookup per byte.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC-16/CCITT-FALSE of b: polynomial 0x1021, initial
// value 0xFFFF, no reflection, no final XOR, as EMV QRCPS Merchant-Presented
// Mode §4.7.3 specifies by reference to ISO/IEC 13239. Its check value is
// CRC16([]byte("123456789")) == 0x29B1.
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^c]
	}
	return crc
}

// crc16String is CRC16 over the bytes of s, without copying s.
func crc16String(s string) uint16 {
	crc := uint16(0xFFFF)
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

const hexDigits = "0123456789ABCDEF"

// crcText formats c as the four upper-case hexadecimal characters that
// follow "6304" at the end of a payload.
func crcText(c uint16) string {
	return string([]byte{hexDigits[c>>12], hexDigits[c>>8&0xF], hexDigits[c>>4&0xF], hexDigits[c&0xF]})
}
