package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/platform"
)

// The helpers below serve the fault scenarios (fault_test.go): they point
// the programs at other brokers, drive payments through the daemon's API
// from several goroutines, and read what the platform applied.

// SetBrokers rewrites the broker URLs of the daemon's and the platform's
// configurations; a nil list leaves that program's brokers as they are.
// Call it before starting the programs.
func (r *Rig) SetBrokers(device, platform []string) {
	r.T.Helper()
	for _, f := range []struct {
		path string
		urls []string
	}{{r.DevConf, device}, {r.PlatConf, platform}} {
		if f.urls == nil {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			r.T.Fatal(err)
		}
		old := fmt.Sprintf(`broker: {urls: ["%s"]}`, r.Broker.URL())
		if !bytes.Contains(b, []byte(old)) {
			r.T.Fatalf("%s has no %q line to rewrite", f.path, old)
		}
		q := make([]string, len(f.urls))
		for i, u := range f.urls {
			q[i] = fmt.Sprintf("%q", u)
		}
		b = bytes.Replace(b, []byte(old), []byte("broker: {urls: ["+strings.Join(q, ", ")+"]}"), 1)
		write(r.T, f.path, string(b))
	}
}

// DaemonRunning reports whether guichetd was started and not stopped.
func (r *Rig) DaemonRunning() bool { return r.daemon != nil }

// LinkStatus is the link part of the daemon's /api/status.
type LinkStatus struct {
	Connected bool   `json:"connected"`
	Broker    string `json:"broker"`
	Resent    uint64 `json:"resent"`
}

// APIStatus reads the daemon's status through its API (quicker than
// running `guichet status`, for polling).
func (r *Rig) APIStatus() (depth uint64, link LinkStatus, err error) {
	var s struct {
		Queue struct {
			Depth uint64 `json:"depth"`
		} `json:"queue"`
		Link LinkStatus `json:"link"`
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/status", r.UIPort))
	if err != nil {
		return 0, LinkStatus{}, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, LinkStatus{}, err
	}
	return s.Queue.Depth, s.Link, nil
}

// WaitDrained waits until the daemon's queue is empty: every record it
// stored has been acked by the platform.
func (r *Rig) WaitDrained(d time.Duration) {
	r.T.Helper()
	r.Eventually(d, "queue drained", func() bool {
		depth, _, err := r.APIStatus()
		return err == nil && depth == 0
	})
}

// WaitConnected waits until the daemon's link is up and returns its broker.
func (r *Rig) WaitConnected(d time.Duration) string {
	r.T.Helper()
	var broker string
	r.Eventually(d, "link up", func() bool {
		_, l, err := r.APIStatus()
		broker = l.Broker
		return err == nil && l.Connected
	})
	return broker
}

// Payers take payments through the daemon's API from several goroutines,
// as several tills or a busy cashier would, and keep what the daemon
// reported stored. A call that fails (the daemon killed under it) reports
// nothing: the payment may or may not be stored, and the cashier was told
// neither way.
type Payers struct {
	r      *Rig
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stored  []string // payment ids answered approved (online or offline), declined by the platform, or queued
	status  map[string]int
	failed  int
	started time.Time
}

// StartPayers starts n goroutines taking payments until Stop.
func (r *Rig) StartPayers(n int, seed uint64) *Payers {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Payers{r: r, cancel: cancel, status: map[string]int{}, started: time.Now()}
	for i := 0; i < n; i++ {
		p.wg.Add(1)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		go func() {
			defer p.wg.Done()
			p.loop(ctx, rng)
		}()
	}
	return p
}

func (p *Payers) loop(ctx context.Context, rng *rand.Rand) {
	// Over the daemon's socket, as the command line pays.
	client := p.r.Local()
	client.Timeout = 20 * time.Second
	url := LocalURL("/api/pay")
	for ctx.Err() == nil {
		code := goodCode
		if rng.IntN(10) == 0 {
			code = blockedCode
		}
		body, _ := json.Marshal(map[string]string{"amount": fmt.Sprintf("%d.%02d", 1+rng.IntN(500), rng.IntN(100)), "code": code})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			p.note("", "", true)
			select { // the daemon is down: try again shortly
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		var pay Payment
		derr := json.NewDecoder(resp.Body).Decode(&pay)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || derr != nil {
			p.note("", "", true)
			continue
		}
		status := pay.Status
		if status == "declined" && pay.Reason == "offline, over the limit" {
			// The device's own decline: with the link down it never sends
			// the payment, so it is not one the platform must apply.
			status = "declined_offline"
		}
		p.note(pay.ID, status, false)
	}
}

func (p *Payers) note(id, status string, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if failed {
		p.failed++
		return
	}
	p.status[status]++
	switch status {
	case "approved", "declined", "approved_offline", "queued":
		if id != "" {
			p.stored = append(p.stored, id)
		}
	}
}

// Count returns how many payments were reported stored so far.
func (p *Payers) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.stored)
}

// Stop stops the goroutines and waits for them.
func (p *Payers) Stop() {
	p.cancel()
	p.wg.Wait()
}

// Stored returns the ids of the payments reported stored.
func (p *Payers) Stored() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stored...)
}

// String sums up the answers, for the test log.
func (p *Payers) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("answers %v, failed calls %d, in %v", p.status, p.failed, time.Since(p.started).Round(time.Millisecond))
}

// AppliedPayments returns the payment id of every record the platform
// applied for the rig's device, one entry per applied record, read from
// the platform's own store. The id comes from the record's body, so a
// payment applied twice under two idempotency keys still shows twice.
func (r *Rig) AppliedPayments() []string {
	ids, _ := r.applied()
	return ids
}

// AppliedRecords returns how many records of the device the platform
// stored: payments, and the reverses and refunds that follow some.
func (r *Rig) AppliedRecords() int {
	_, n := r.applied()
	return n
}

func (r *Rig) applied() ([]string, int) {
	r.T.Helper()
	st, err := platform.OpenStore(filepath.Join(r.Dir, "platform", "platform.db"))
	if err != nil {
		r.T.Fatal(err)
	}
	defer st.Close()
	recs, err := st.Records(context.Background(), "shop-1", "till-1")
	if err != nil {
		r.T.Fatal(err)
	}
	ids := make([]string, 0, len(recs))
	for _, rec := range recs {
		if rec.Type != "payment.auth" {
			// A reverse or a refund the device sent after its own
			// decision: the same payment, not a second one.
			continue
		}
		var b struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(rec.Body, &b); err != nil || b.ID == "" {
			r.T.Fatalf("applied record %d has no payment id: %s", rec.Seq, rec.Body)
		}
		if b.ID != rec.Key {
			r.T.Errorf("applied record %d: payment %s under idempotency key %s", rec.Seq, b.ID, rec.Key)
		}
		ids = append(ids, b.ID)
	}
	return ids, len(recs)
}

// Log returns a program's log, for failure messages.
func (r *Rig) Log(name string) string { return r.logOf(name).String() }

// fatalfLogs fails the test with the programs' logs attached.
func (r *Rig) fatalfLogs(format string, args ...any) {
	r.T.Helper()
	r.T.Fatalf(format+"\nguichetd log (tail):\n%s\nplatform log (tail):\n%s", append(args, tail(r.Log("guichetd"), 4000), tail(r.Log("guichet-platform"), 4000))...)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// testSeed returns a seed for the scenario's random choices, logged so a
// failing run can be replayed with GUICHET_FAULT_SEED.
func testSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GUICHET_FAULT_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set GUICHET_FAULT_SEED to replay)", seed)
	return seed
}
