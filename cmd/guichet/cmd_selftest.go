package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/daemon"
	"github.com/guichet/guichet/internal/selftest"
)

func init() {
	register("selftest", "exercise every configured device and service and print pass or fail with a hint for each", runSelfTest)
}

// runSelfTest asks the running daemon for its self-test, as it holds the
// devices; when none runs it tests in this process. It fails (status 1)
// when any check fails.
func runSelfTest(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "selftest", "[--json] [--local] [--card FILE]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	local := fs.Bool("local", false, "test in this process even if the daemon answers (it must not hold the devices)")
	card := fs.String("card", "", "write the test card (a QR code for the cameras and scanners) to `FILE` as PNG and exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *card != "" {
		return writeCard(*card)
	}
	cfg, err := config.LoadDaemon(e.configPath)
	if err != nil {
		return err
	}
	var rep selftest.Report
	if *local {
		rep = daemon.SelfTest(ctx, cfg)
	} else {
		var running bool
		rep, running, err = daemonSelfTest(ctx, cfg.UI.Socket)
		switch {
		case err != nil:
			return err
		case !running:
			rep = daemon.SelfTest(ctx, cfg)
		}
	}
	if *asJSON {
		err = rep.WriteJSON(e.stdout)
	} else {
		err = rep.WriteTable(e.stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%d of %d checks failed", rep.Failed, len(rep.Results))
	}
	return nil
}

// daemonSelfTest runs the self-test through the daemon's API on its Unix
// socket; running is false when no daemon listens there.
func daemonSelfTest(ctx context.Context, socket string) (rep selftest.Report, running bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://guichet/api/selftest", strings.NewReader("{}"))
	if err != nil {
		return rep, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}}}
	resp, err := client.Do(req)
	// No socket, or one left by a daemon that stopped.
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return rep, false, nil
	}
	if err != nil {
		return rep, false, fmt.Errorf("daemon not reachable: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return rep, true, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return rep, true, errors.New(e.Error)
		}
		return rep, true, fmt.Errorf("daemon answered %s (an older guichetd without a self-test?)", resp.Status)
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&rep); err != nil {
		return rep, true, fmt.Errorf("daemon's report: %w", err)
	}
	return rep, true, nil
}

func writeCard(path string) error {
	var b bytes.Buffer
	if err := selftest.WriteCard(&b, 8); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
