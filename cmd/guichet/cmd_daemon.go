package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/ui"
)

// The subcommands in this file talk to the running daemon through its
// local API, the same one the cashier's screen uses.

func init() {
	register("pay", "take a payment through the running daemon and print the outcome as JSON", runPay)
	register("status", "print the queue depth and the last sync of the running daemon", runStatus)
	register("sync", "ask the running daemon to send its queue now", runSync)
	register("keygen", "create the device key if missing and print its public key", runKeygen)
}

// daemonURL returns the base URL of the daemon's API from its configuration.
func daemonURL(e *env) (string, error) {
	cfg, err := config.LoadDaemon(e.configPath)
	if err != nil {
		return "", err
	}
	return "http://" + cfg.UI.Listen, nil
}

func call(ctx context.Context, method, url string, body any, out io.Writer) error {
	return callAs(ctx, method, url, "", body, out)
}

// callAs is call with a bearer token, for the routes that need one.
func callAs(ctx context.Context, method, url, token string, body any, out io.Writer) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("daemon not reachable: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	_, err = out.Write(b)
	return err
}

func runPay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "pay", "--amount 12.34 (--code CODE | --cash)")
	amount := fs.String("amount", "", "amount, such as 12.34")
	code := fs.String("code", "", "the customer's payment code")
	cash := fs.Bool("cash", false, "a cash sale: approved at once, the cash drawer opens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *amount == "" || (*code == "") == !*cash {
		return fmt.Errorf("%w: --amount and one of --code and --cash are required", errUsage)
	}
	base, err := daemonURL(e)
	if err != nil {
		return err
	}
	if *cash {
		return call(ctx, http.MethodPost, base+"/api/pay/cash", RefundRequest{Amount: *amount}, e.stdout)
	}
	return call(ctx, http.MethodPost, base+"/api/pay", ui.PayRequest{Amount: *amount, Code: *code}, e.stdout)
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, err := daemonURL(e)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := call(ctx, http.MethodGet, base+"/api/status", nil, &buf); err != nil {
		return err
	}
	if *asJSON {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	var st struct {
		Device   string
		Identity string `json:"identity"`
		Queue    struct {
			Depth   uint64
			LastSeq uint64 `json:"last_seq"`
			Outbox  string
			Blocked uint64
		} `json:"queue"`
		Link struct {
			Connected bool
			Broker    string
			LastSync  time.Time `json:"last_sync"`
			Refusals  map[string]uint64
			Versions  map[string]uint64
			Error     string `json:"downlink_error"`
		} `json:"link"`
	}
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "device %s\nidentity %s\nconnected %v %s\nqueue depth %d (last seq %d)\nlast sync %s\n",
		st.Device, identityLine(st.Identity), st.Link.Connected, st.Link.Broker, st.Queue.Depth, st.Queue.LastSeq, st.Link.LastSync.Format(time.RFC3339))
	if st.Queue.Blocked > 0 {
		// The alarm: the queue does not move until an operator decides.
		fmt.Fprintf(e.stdout, "BLOCKED: %d record(s) of outbox %q rejected by the platform; the queue waits for a skip_rejected command\n",
			st.Queue.Blocked, st.Queue.Outbox)
	}
	if len(st.Link.Versions) > 0 {
		fmt.Fprintf(e.stdout, "downlink versions %s\n", counts(st.Link.Versions))
	}
	if len(st.Link.Refusals) > 0 {
		fmt.Fprintf(e.stdout, "downlink refused %s\n", counts(st.Link.Refusals))
	}
	if st.Link.Error != "" {
		fmt.Fprintf(e.stdout, "downlink stopped: %s\n", st.Link.Error)
	}
	return nil
}

// counts writes a map as "k1=v1 k2=v2", sorted by key.
func counts(m map[string]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// identityLine says where the identity key lives, and that a key file is
// the weaker kind, in words a technician can copy into a ticket.
func identityLine(kind string) string {
	switch kind {
	case string(identity.KindTPM):
		return "tpm (the key cannot leave the TPM)"
	case string(identity.KindFile):
		return "file (the weaker kind: no TPM, the key is in a file that a copy of the disk copies)"
	case "":
		return "unknown (a daemon older than this command)"
	}
	return fmt.Sprintf("%q (unknown kind)", kind)
}

func runSync(ctx context.Context, e *env, args []string) error {
	if err := parseFlags(newFlags(e, "sync", ""), args); err != nil {
		return err
	}
	base, err := daemonURL(e)
	if err != nil {
		return err
	}
	return call(ctx, http.MethodPost, base+"/api/sync", nil, e.stdout)
}

func runKeygen(ctx context.Context, e *env, args []string) error {
	if err := parseFlags(newFlags(e, "keygen", ""), args); err != nil {
		return err
	}
	cfg, err := config.LoadDaemon(e.configPath)
	if err != nil {
		return err
	}
	k, err := keys.LoadOrCreate(filepath.Join(cfg.StateDir, "device.key"))
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, keys.EncodePublic(k.Public().(ed25519.PublicKey)))
	return nil
}
