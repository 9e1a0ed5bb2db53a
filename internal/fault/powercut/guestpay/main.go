// Command guestpay is the program the power-cut test (internal/fault/powercut)
// runs inside its qemu guest: the appliance's real checkout flow
// (checkout.Service) committing to the real store (sync/outbox) on a
// virtio disk. It is built statically (CGO_ENABLED=0: the store's SQLite is
// pure Go) and talks to the host on the serial console only.
//
// It first lists what the store holds:
//
//	store existing|new   whether the store's file was there
//	synchronous N        the store's PRAGMA synchronous (2 FULL, 1 NORMAL)
//	have ID              one line per row of the payments table
//	record KEY           one line per payment.auth record in the outbox
//	listed payments=N records=M
//
// then, with -pay, takes payments with several cashiers at once until it
// loses power, printing "stored ID" only once Pay has returned: the
// moment the appliance tells the cashier the payment is safe.
//
// -sync normal lowers the store's connections to synchronous=NORMAL
// through a connection hook of the SQLite driver, without touching
// sync/outbox: it exists only for the test's control run, which must lose
// payments.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/sync/outbox"
)

func main() {
	db := flag.String("db", "/data/outbox.db", "the store")
	pay := flag.Bool("pay", false, "take payments after listing")
	payers := flag.Int("payers", 4, "cashiers paying at once")
	syncMode := flag.String("sync", "full", "full, or normal for the control run")
	limit := flag.Duration("for", 5*time.Minute, "stop paying after this long")
	flag.Parse()
	if err := run(*db, *pay, *payers, *syncMode, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "guestpay:", err)
		os.Exit(1)
	}
}

// console serialises the lines the host reads.
var console sync.Mutex

func say(format string, args ...any) {
	console.Lock()
	fmt.Printf(format+"\n", args...)
	console.Unlock()
}

func run(db string, pay bool, payers int, syncMode string, limit time.Duration) error {
	if syncMode != "full" && syncMode != "normal" {
		return fmt.Errorf("-sync %q: want full or normal", syncMode)
	}
	if _, err := os.Stat(db); err == nil {
		say("store existing")
	} else {
		say("store new")
	}
	seed := sha256.Sum256([]byte("guichet power-cut test device"))
	id := outbox.Identity{Tenant: "t-powercut", Device: "d-guest", Key: ed25519.NewKeyFromSeed(seed[:])}
	if syncMode == "normal" {
		// Create the store and its schema with a full sync first, so
		// that what the control loses is payments, not the store.
		st, err := outbox.Open(db, id)
		if err != nil {
			return err
		}
		if err := st.Close(); err != nil {
			return err
		}
		// Runs after the DSN's pragmas, so it overrides the store's
		// synchronous=FULL on every connection opened from now on.
		sqlite.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
			_, err := c.ExecContext(context.Background(), "PRAGMA synchronous=NORMAL", nil)
			return err
		})
	}
	st, err := outbox.Open(db, id)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if err := list(ctx, st); err != nil {
		return err
	}
	if !pay {
		return nil
	}
	svc := &checkout.Service{
		Store: st, Currency: "CNY",
		// The platform is not there: every payment is stored, sent, and
		// after WaitOnline approved offline, the answer the appliance
		// gives when the platform is late (the limits let every one in).
		WaitOnline:            time.Nanosecond,
		OfflinePerTransaction: checkout.MaxAmount, OfflineTotal: checkout.MaxAmount,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	say("paying payers=%d", payers)
	var (
		wg   sync.WaitGroup
		once sync.Once
		perr error
	)
	for i := 0; i < payers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				p, err := svc.Pay(ctx, int64(100+(i*7919+n)%9900), "134567890123456780")
				if err != nil {
					if ctx.Err() == nil {
						once.Do(func() { perr = err; cancel() })
					}
					return
				}
				say("stored %s", p.ID)
			}
		}(i)
	}
	wg.Wait()
	return perr
}

// list prints what the store holds, for the host to compare with what it
// was told was stored.
func list(ctx context.Context, st *outbox.Store) error {
	var syncLevel int
	if err := st.Reader().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncLevel); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	say("synchronous %d", syncLevel)
	svc := &checkout.Service{Store: st}
	ps, err := svc.Recent(ctx, 1<<30)
	if err != nil {
		return err
	}
	for _, p := range ps {
		say("have %s", p.ID)
	}
	records := 0
	for after := uint64(0); ; {
		es, err := st.Pending(ctx, after, 1000)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.Type == checkout.RecordPaymentAuth {
				say("record %s", e.Key)
				records++
			}
			after = e.Seq
		}
	}
	say("listed payments=%d records=%d", len(ps), records)
	return nil
}
