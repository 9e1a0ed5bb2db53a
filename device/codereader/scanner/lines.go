package scanner

// Lines splits a serial scanner's byte stream into codes: a code ends at
// CR, LF or CR LF, empty lines are skipped, NUL bytes are dropped.
type Lines struct {
	buf     []byte
	tooLong bool
}

// Feed adds b and returns the codes it completes, and ErrTooLong once for
// each line that outgrew MaxCode (that line is dropped).
func (l *Lines) Feed(b []byte) (codes []string, err error) {
	for _, c := range b {
		switch c {
		case '\r', '\n':
			if !l.tooLong && len(l.buf) > 0 {
				codes = append(codes, string(l.buf))
			}
			l.buf, l.tooLong = l.buf[:0], false
		case 0:
		default:
			if l.tooLong {
				continue
			}
			if len(l.buf) == MaxCode {
				l.tooLong, l.buf = true, l.buf[:0]
				err = ErrTooLong
				continue
			}
			l.buf = append(l.buf, c)
		}
	}
	return codes, err
}
