package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/eid/audit"
)

func init() {
	register("audit", "verify the counter's hash-chained audit log (read-only, beside a running daemon)", runAudit)
}

// AuditReport is what "guichet audit" prints.
type AuditReport struct {
	DB      string `json:"db"`
	Entries int    `json:"entries"`
	OK      bool   `json:"ok"`
	// BrokenAt is the first entry found edited, removed or out of place.
	BrokenAt uint64 `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func runAudit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "audit", "[--db OUTBOX.db]")
	db := fs.String("db", "", "outbox `FILE` (default: outbox.db in the configured state directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *db == "" {
		cfg, err := config.LoadDaemon(e.configPath)
		if err != nil {
			return err
		}
		*db = filepath.Join(cfg.StateDir, "outbox.db")
	}
	n, err := audit.VerifyFile(ctx, *db)
	rep := AuditReport{DB: *db, Entries: n, OK: err == nil}
	var be *audit.BreakError
	switch {
	case errors.As(err, &be):
		rep.BrokenAt, rep.Reason = be.Seq, be.Reason
	case err != nil:
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintln(e.stdout, string(b))
	if !rep.OK {
		return fmt.Errorf("audit log broken at entry %d", rep.BrokenAt)
	}
	return nil
}
