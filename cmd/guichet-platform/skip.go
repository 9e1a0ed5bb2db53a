package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
)

// recordSkip records a skip_rejected command in the platform's store
// before it is sent: the stream advances over the rejected record, so the
// device's next record is accepted, and the skip is an event the operator
// sees in stats. A skip of a record that does not block its outbox is
// refused here (exit 2), before anything is sent.
func recordSkip(ctx context.Context, cfg *config.Platform, cmd envelope.Command) error {
	args, err := envelope.DecodeSkipRejected(cmd.Args)
	if err != nil {
		return usagef("push: --args: %v", err)
	}
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer store.Close()
	err = store.RecordSkip(ctx, cmd.Tenant, cmd.Device, args.Outbox, args.Seq, args.Reason, cmd.ID)
	if errors.Is(err, platform.ErrNotBlocked) {
		return usagef("push: skip_rejected: %v", err)
	}
	if err != nil {
		return fmt.Errorf("push: skip_rejected: %w", err)
	}
	return nil
}
