package scanner

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Linux input event types and key codes (include/uapi/linux/input.h and
// input-event-codes.h).
const (
	evKey = 0x01

	keyEnter      = 28
	keyKPEnter    = 96
	keyLeftShift  = 42
	keyRightShift = 54
	keyCapsLock   = 58
)

// EventSize is the size of struct input_event on this machine: a struct
// timeval of two C longs, then __u16 type, __u16 code, __s32 value.
const EventSize = 2*strconv.IntSize/8 + 8

// InputEvent is one struct input_event, without its time stamp.
type InputEvent struct {
	Type  uint16
	Code  uint16
	Value int32
}

// ParseEvent decodes one struct input_event of EventSize bytes, in the
// machine's (little-endian on every target we ship) byte order.
func ParseEvent(b []byte) (InputEvent, error) {
	if len(b) != EventSize {
		return InputEvent{}, fmt.Errorf("scanner: input event of %d bytes, want %d", len(b), EventSize)
	}
	t := b[EventSize-8:]
	return InputEvent{
		Type:  binary.LittleEndian.Uint16(t[0:]),
		Code:  binary.LittleEndian.Uint16(t[2:]),
		Value: int32(binary.LittleEndian.Uint32(t[4:])),
	}, nil
}

// AppendEvent appends e as a struct input_event with a zero time stamp:
// what the kernel would write, for emulators and tests.
func AppendEvent(b []byte, e InputEvent) []byte {
	b = append(b, make([]byte, EventSize-8)...)
	b = binary.LittleEndian.AppendUint16(b, e.Type)
	b = binary.LittleEndian.AppendUint16(b, e.Code)
	return binary.LittleEndian.AppendUint32(b, uint32(e.Value))
}

// usKeys maps key codes to the characters of a US keyboard layout, the
// one keyboard-wedge scanners emulate by default: unshifted, shifted.
var usKeys = map[uint16][2]byte{
	2: {'1', '!'}, 3: {'2', '@'}, 4: {'3', '#'}, 5: {'4', '$'}, 6: {'5', '%'},
	7: {'6', '^'}, 8: {'7', '&'}, 9: {'8', '*'}, 10: {'9', '('}, 11: {'0', ')'},
	12: {'-', '_'}, 13: {'=', '+'},
	16: {'q', 'Q'}, 17: {'w', 'W'}, 18: {'e', 'E'}, 19: {'r', 'R'}, 20: {'t', 'T'},
	21: {'y', 'Y'}, 22: {'u', 'U'}, 23: {'i', 'I'}, 24: {'o', 'O'}, 25: {'p', 'P'},
	26: {'[', '{'}, 27: {']', '}'},
	30: {'a', 'A'}, 31: {'s', 'S'}, 32: {'d', 'D'}, 33: {'f', 'F'}, 34: {'g', 'G'},
	35: {'h', 'H'}, 36: {'j', 'J'}, 37: {'k', 'K'}, 38: {'l', 'L'},
	39: {';', ':'}, 40: {'\'', '"'}, 41: {'`', '~'}, 43: {'\\', '|'},
	44: {'z', 'Z'}, 45: {'x', 'X'}, 46: {'c', 'C'}, 47: {'v', 'V'}, 48: {'b', 'B'},
	49: {'n', 'N'}, 50: {'m', 'M'},
	51: {',', '<'}, 52: {'.', '>'}, 53: {'/', '?'}, 57: {' ', ' '},
	// Keypad, which some scanners use for digits.
	71: {'7', '7'}, 72: {'8', '8'}, 73: {'9', '9'}, 75: {'4', '4'}, 76: {'5', '5'},
	77: {'6', '6'}, 79: {'1', '1'}, 80: {'2', '2'}, 81: {'3', '3'}, 82: {'0', '0'},
	83: {'.', '.'}, 55: {'*', '*'}, 74: {'-', '-'}, 78: {'+', '+'}, 98: {'/', '/'},
}

// Keys turns key events into codes: it tracks Shift and Caps Lock, maps
// key presses to characters, and ends a code at Enter.
type Keys struct {
	shift   int // Shift keys held
	caps    bool
	buf     []byte
	tooLong bool
}

// Event feeds one event. It returns the code when e ends one, and
// ErrTooLong once for a code that outgrew MaxCode.
func (k *Keys) Event(e InputEvent) (code string, done bool, err error) {
	if e.Type != evKey {
		return "", false, nil
	}
	switch e.Code {
	case keyLeftShift, keyRightShift:
		switch e.Value {
		case 1:
			k.shift++
		case 0:
			k.shift = max(0, k.shift-1)
		}
		return "", false, nil
	case keyCapsLock:
		if e.Value == 1 {
			k.caps = !k.caps
		}
		return "", false, nil
	}
	if e.Value != 1 && e.Value != 2 { // press or autorepeat, not release
		return "", false, nil
	}
	if e.Code == keyEnter || e.Code == keyKPEnter {
		text, tooLong := string(k.buf), k.tooLong
		k.buf, k.tooLong = k.buf[:0], false
		if tooLong || text == "" {
			return "", false, nil
		}
		return text, true, nil
	}
	ch, ok := usKeys[e.Code]
	if !ok || k.tooLong {
		return "", false, nil
	}
	shifted := k.shift > 0
	if k.caps && ch[0] >= 'a' && ch[0] <= 'z' {
		shifted = !shifted
	}
	c := ch[0]
	if shifted {
		c = ch[1]
	}
	if len(k.buf) == MaxCode {
		k.tooLong = true
		k.buf = k.buf[:0]
		return "", false, ErrTooLong
	}
	k.buf = append(k.buf, c)
	return "", false, nil
}
