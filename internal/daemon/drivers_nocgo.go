//go:build !cgo

package daemon

import (
	"context"
	"errors"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/cardreader"
)

// ErrNoCgo is why the PC/SC card reader is refused by a build without
// cgo (CGO_ENABLED=0, such as the pure-Go scanner-only build): pcsclite is
// a C library. The SAM module ("sam") and the simulated reader remain.
var ErrNoCgo = errors.New("this guichetd was built without cgo: the PC/SC card reader (pcsclite) needs a build with cgo")

func init() {
	device.Register(cardreader.Drivers, "pcsc", func(context.Context, yaml.Node) (cardreader.Reader, error) {
		return nil, ErrNoCgo
	})
}
