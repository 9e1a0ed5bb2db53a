//go:build noopencv

package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// eidDesk stands for the e-ID counter's desk, which a build without OpenCV
// does not have: openDesk never returns one.
type eidDesk struct{}

// openDesk refuses the e-ID counter: its face check needs OpenCV.
func openDesk(context.Context, *config.Daemon, *outbox.Store, *audit.Log, func() error, cardreader.Reader, *slog.Logger) (*eidDesk, func(), error) {
	return nil, nil, fmt.Errorf("eid.counter: %w", ErrNoOpenCV)
}

func (*eidDesk) route(*link.Router)  {}
func (*eidDesk) serve(*ui.Server)    {}
func (*eidDesk) Run(context.Context) {}
