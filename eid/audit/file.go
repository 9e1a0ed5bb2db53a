package audit

import (
	"context"
	"fmt"

	"github.com/guichet/guichet/sync/outbox"
)

// VerifyFile checks the log in the store at path, opened read-only, while
// the daemon may be running: the technician's `guichet audit verify`.
func VerifyFile(ctx context.Context, path string) (int, error) {
	db, err := outbox.OpenReadOnly(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	defer db.Close()
	n, err := Verify(ctx, SourceDB{db})
	if err != nil {
		return n, fmt.Errorf("audit: %s: %w", path, err)
	}
	return n, nil
}
