package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/guichet/guichet/staff"
)

func init() {
	register("cashier", "enrol, list, reset or remove the till's cashiers and supervisors (over the daemon's socket)", runCashier)
}

const cashierUsage = `usage: guichet cashier add --id ID --name NAME [--role cashier|supervisor|technician] [--pin-file FILE]
       guichet cashier list [--json]
       guichet cashier reset --id ID [--pin-file FILE]
       guichet cashier remove --id ID
  Through the running daemon's Unix socket (ui.socket), open to its user
  and the service group. The PIN (6 to 64 characters) is read from the
  first line of FILE, or of standard input, never from the command line.
  reset also unlocks an account locked after wrong PINs.`

func runCashier(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want add, list, reset or remove (see guichet cashier --help)", errUsage)
	}
	verb, rest := args[0], args[1:]
	fs := newFlags(e, "cashier "+verb, "")
	fs.Usage = func() { fmt.Fprintln(e.stderr, cashierUsage) }
	id := fs.String("id", "", "the person's own `ID` (no shared account)")
	var name, role, pinFile *string
	var asJSON *bool
	switch verb {
	case "add":
		name = fs.String("name", "", "display `NAME`, shown on the till")
		role = fs.String("role", string(staff.Cashier), "cashier, supervisor or technician")
		pinFile = fs.String("pin-file", "", "read the PIN from the first line of `FILE`")
	case "reset":
		pinFile = fs.String("pin-file", "", "read the PIN from the first line of `FILE`")
	case "list":
		asJSON = fs.Bool("json", false, "print JSON")
	case "remove":
	case "help", "-h", "--help", "-help":
		fmt.Fprintln(e.stdout, cashierUsage)
		return nil
	default:
		return fmt.Errorf("%w: unknown verb %q: want add, list, reset or remove", errUsage, verb)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if verb != "list" && *id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	if verb == "add" && *name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	var pin string
	if pinFile != nil {
		pins, err := readPINs(e, *pinFile, 1)
		if err != nil {
			return err
		}
		pin = pins[0]
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	path := "/api/staff/" + url.PathEscape(*id)
	switch verb {
	case "add":
		return d.call(ctx, http.MethodPost, "/api/staff", map[string]string{"id": *id, "name": *name, "role": *role, "pin": pin}, e.stdout)
	case "reset":
		return d.call(ctx, http.MethodPost, path+"/pin", map[string]string{"pin": pin}, e.stdout)
	case "remove":
		return d.call(ctx, http.MethodDelete, path, nil, e.stdout)
	}
	var buf bytes.Buffer
	if err := d.call(ctx, http.MethodGet, "/api/staff", nil, &buf); err != nil {
		return err
	}
	if *asJSON {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	var ps []staff.Person
	if err := json.Unmarshal(buf.Bytes(), &ps); err != nil {
		return fmt.Errorf("cashier list: %w", err)
	}
	for _, p := range ps {
		state := "active"
		if p.Locked {
			state = "LOCKED"
		} else if p.Failures > 0 {
			state = fmt.Sprintf("%d wrong PIN(s)", p.Failures)
		}
		fmt.Fprintf(e.stdout, "%-20s %-10s %-8s %s\n", p.ID, p.Role, state, strings.ReplaceAll(p.Name, "\n", " "))
	}
	return nil
}
