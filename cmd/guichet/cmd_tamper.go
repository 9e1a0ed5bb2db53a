package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/guichet/guichet/tamper"
)

func init() {
	register("tamper", "show the tamper switch's state, or clear its lock with a technician's PIN", runTamper)
}

const tamperUsage = `usage: guichet tamper status [--json]
       guichet tamper clear --technician ID [--pin-file FILE]
  Through the running daemon's Unix socket. An opened tamper switch locks
  refunds, voids and e-ID activations (tamper.policy: lock) until a
  technician clears it with their own PIN, read from the first line of
  FILE or of standard input, never from the command line. A cashier's or a
  supervisor's PIN does not clear it.`

func runTamper(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want status or clear (see guichet tamper --help)", errUsage)
	}
	verb, rest := args[0], args[1:]
	fs := newFlags(e, "tamper "+verb, "")
	fs.Usage = func() { fmt.Fprintln(e.stderr, tamperUsage) }
	var asJSON *bool
	var technician, pinFile *string
	switch verb {
	case "status":
		asJSON = fs.Bool("json", false, "print JSON")
	case "clear":
		technician = fs.String("technician", "", "the technician's own `ID`")
		pinFile = fs.String("pin-file", "", "read the PIN from the first line of `FILE`")
	case "help", "-h", "--help", "-help":
		fmt.Fprintln(e.stdout, tamperUsage)
		return nil
	default:
		return fmt.Errorf("%w: unknown verb %q: want status or clear", errUsage, verb)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	var body map[string]string
	if verb == "clear" {
		if *technician == "" {
			return fmt.Errorf("%w: --technician is required", errUsage)
		}
		pins, err := readPINs(e, *pinFile, 1)
		if err != nil {
			return err
		}
		body = map[string]string{"technician": *technician, "pin": pins[0]}
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if verb == "clear" {
		err = d.call(ctx, http.MethodPost, "/api/tamper/clear", body, &buf)
	} else {
		err = d.call(ctx, http.MethodGet, "/api/tamper", nil, &buf)
	}
	if err != nil {
		return err
	}
	if asJSON != nil && *asJSON {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	var st tamper.State
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		return fmt.Errorf("tamper: %w", err)
	}
	printTamper(e, st)
	return nil
}

func printTamper(e *env, st tamper.State) {
	state := "not locked"
	if st.Locked {
		state = "LOCKED after the tamper switch opened: refunds, voids and e-ID activations refused until a technician clears it"
	}
	sw := "closed"
	if st.Open {
		sw = "OPEN"
	}
	fmt.Fprintf(e.stdout, "state:    %s\nswitch:   %s\npolicy:   %s\nopenings: %d\n", state, sw, st.Policy, st.Openings)
	if st.OpenedAt != nil {
		fmt.Fprintf(e.stdout, "opened:   %s\n", st.OpenedAt.Local().Format(time.RFC3339))
	}
	if st.ClearedAt != nil {
		fmt.Fprintf(e.stdout, "cleared:  %s by %s\n", st.ClearedAt.Local().Format(time.RFC3339), st.ClearedBy)
	}
}
