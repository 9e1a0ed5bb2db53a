package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/ui"
)

func init() {
	register("official", "enrol an official at the e-ID counter or reset a PIN (technician, as root)", runOfficial)
}

const officialUsage = `usage: guichet official set-pin --id OFFICIAL [--pin-file FILE]
  Enrols the official, or resets the PIN of one locked out, through the
  running daemon. The PIN (6 to 64 characters) is read from the first line of
  FILE, or of standard input, never from the command line where other users
  could see it. It needs the technician token in the daemon's state
  directory, which only root can read.`

func runOfficial(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "set-pin" {
		if len(args) > 0 && strings.Trim(args[0], "-") == "help" || len(args) > 0 && strings.Trim(args[0], "-") == "h" {
			fmt.Fprintln(e.stdout, officialUsage)
			return nil
		}
		return fmt.Errorf("%w: want \"official set-pin --id OFFICIAL\" (see guichet official --help)", errUsage)
	}
	fs := newFlags(e, "official set-pin", "--id OFFICIAL [--pin-file FILE]")
	id := fs.String("id", "", "the official's own `ID` (no shared account)")
	pinFile := fs.String("pin-file", "", "read the PIN from the first line of `FILE` instead of standard input")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	pins, err := readPINs(e, *pinFile, 1)
	if err != nil {
		return err
	}
	cfg, err := config.LoadDaemon(e.configPath)
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(filepath.Join(cfg.StateDir, ui.TechnicianTokenFile))
	if err != nil {
		return fmt.Errorf("technician token (is eid.counter on, and are you root?): %w", err)
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	return d.callAs(ctx, http.MethodPost, "/api/eid/officials/"+url.PathEscape(*id)+"/pin", string(bytes.TrimSpace(tok)), map[string]string{"pin": pins[0]}, e.stdout)
}

// readPINs reads n PINs, one a line, from file or else standard input:
// never from the command line, where other users could see them.
func readPINs(e *env, file string, n int) ([]string, error) {
	in := e.stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	if in == nil {
		return nil, fmt.Errorf("%w: no standard input to read the PIN from", errUsage)
	}
	br := bufio.NewReader(io.LimitReader(in, 256*int64(n)))
	out := make([]string, n)
	for i := range out {
		line, err := br.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return nil, fmt.Errorf("read the PIN (one a line, on standard input or --pin-file): %w", err)
		}
		out[i] = strings.TrimRight(line, "\r\n")
	}
	return out, nil
}
