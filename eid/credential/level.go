package credential

import "fmt"

// Level is the assurance level of an e-ID.
type Level string

// The levels of the e-ID scheme (see the product brief): Limited is linked to
// the ID card by face recognition in the app; Full was unlocked at an
// official counter that read the card and checked the face.
const (
	Limited Level = "limited"
	Full    Level = "full"
)

func (l Level) rank() int {
	switch l {
	case Limited:
		return 1
	case Full:
		return 2
	}
	return 0
}

// Valid reports whether l is a known level.
func (l Level) Valid() bool { return l.rank() > 0 }

// Satisfies reports whether a credential of level l may be used where
// required is needed: full satisfies limited, not the other way round. An
// empty required level is satisfied by any known level.
func (l Level) Satisfies(required Level) bool {
	return l.Valid() && l.rank() >= required.rank()
}

// ParseLevel returns the level named s.
func ParseLevel(s string) (Level, error) {
	l := Level(s)
	if !l.Valid() {
		return "", fmt.Errorf("eid: unknown level %q (want %q or %q)", s, Limited, Full)
	}
	return l, nil
}
