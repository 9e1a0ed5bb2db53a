//go:build cgo

package daemon

// The PC/SC card reader driver ("pcsc") links pcsclite through cgo.
import _ "github.com/guichet/guichet/device/cardreader/pcsc"
