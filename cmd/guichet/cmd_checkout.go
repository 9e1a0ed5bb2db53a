package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/guichet/guichet/checkout"
)

// The cashier's operations after a payment, through the running daemon's
// local API (the daemon serves them with checkout.Service's Refund, Void,
// Receipt, Report and CloseDay).

func init() {
	register("refund", "refund all or part of an approved payment through the running daemon", runRefund)
	register("void", "void a payment of the current business day, before the day is closed", runVoid)
	register("receipt", "print a payment's receipt (code masked)", runReceipt)
	register("report", "print the end-of-day report of a business day (default the current one)", runReport)
	register("close-day", "close the business day: store and send its report; later payments count on the next day", runCloseDay)
}

var amountShape = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,3})?$`)

// Supervision is the supervisor's id and PIN that a refund, a void and
// closing the day need, even over the socket.
type Supervision struct {
	Supervisor    string `json:"supervisor"`
	SupervisorPIN string `json:"supervisor_pin"`
}

// RefundRequest is the body of POST /api/payments/{id}/refund.
type RefundRequest struct {
	Supervision
	Amount string `json:"amount"`
}

// supervisorFlags adds --supervisor and --pin-file to fs; the returned
// function reads the PIN once the flags are parsed.
func supervisorFlags(e *env, fs *flag.FlagSet) func() (Supervision, error) {
	id := fs.String("supervisor", "", "the supervisor `ID` who authorises it (their PIN on standard input)")
	file := fs.String("pin-file", "", "read the supervisor's PIN from the first line of `FILE` instead of standard input")
	return func() (Supervision, error) {
		if *id == "" {
			return Supervision{}, fmt.Errorf("%w: --supervisor is required: a supervisor's PIN authorises it", errUsage)
		}
		pins, err := readPINs(e, *file, 1)
		if err != nil {
			return Supervision{}, err
		}
		return Supervision{Supervisor: *id, SupervisorPIN: pins[0]}, nil
	}
}

func runRefund(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "refund", "--id PAYMENT --amount 1.00 --supervisor ID < PIN")
	id := fs.String("id", "", "payment `ID`")
	amount := fs.String("amount", "", "amount to refund, such as 1.00")
	supervisor := supervisorFlags(e, fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || *amount == "" {
		return fmt.Errorf("%w: --id and --amount are required", errUsage)
	}
	// The daemon reads the amount in its currency's minor units; only the
	// shape is checked here.
	if !amountShape.MatchString(*amount) {
		return fmt.Errorf("%w: --amount %q: want a number such as 1.00 (or 100 in a currency without decimals)", errUsage, *amount)
	}
	sv, err := supervisor()
	if err != nil {
		return err
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	return d.call(ctx, http.MethodPost, "/api/payments/"+url.PathEscape(*id)+"/refund", RefundRequest{Supervision: sv, Amount: *amount}, e.stdout)
}

func runVoid(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "void", "--id PAYMENT --supervisor ID < PIN")
	id := fs.String("id", "", "payment `ID`")
	supervisor := supervisorFlags(e, fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	sv, err := supervisor()
	if err != nil {
		return err
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	return d.call(ctx, http.MethodPost, "/api/payments/"+url.PathEscape(*id)+"/void", sv, e.stdout)
}

func runReceipt(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "receipt", "--id PAYMENT [--json | --print]")
	id := fs.String("id", "", "payment `ID`")
	asJSON := fs.Bool("json", false, "print JSON")
	onPaper := fs.Bool("print", false, "print it on the counter's receipt printer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	if *onPaper {
		return d.call(ctx, http.MethodPost, "/api/payments/"+url.PathEscape(*id)+"/print", nil, e.stdout)
	}
	var buf bytes.Buffer
	if err := d.call(ctx, http.MethodGet, "/api/payments/"+url.PathEscape(*id)+"/receipt", nil, &buf); err != nil {
		return err
	}
	if *asJSON {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	var r checkout.Receipt
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	_, err = fmt.Fprint(e.stdout, r.Text())
	return err
}

func runReport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "report", "[--day 2006-01-02] [--json]")
	day := fs.String("day", "", "business `DAY` (default: the current business day, tomorrow's date once today is closed)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	q := ""
	if *day != "" {
		if _, err := time.Parse(time.DateOnly, *day); err != nil {
			return fmt.Errorf("%w: --day %q: want 2006-01-02", errUsage, *day)
		}
		q = "?day=" + url.QueryEscape(*day)
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	return printReport(ctx, e, d, http.MethodGet, "/api/report"+q, nil, *asJSON)
}

func runCloseDay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "close-day", "--supervisor ID [--json] < PIN")
	asJSON := fs.Bool("json", false, "print JSON")
	supervisor := supervisorFlags(e, fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sv, err := supervisor()
	if err != nil {
		return err
	}
	d, err := dialDaemon(e)
	if err != nil {
		return err
	}
	return printReport(ctx, e, d, http.MethodPost, "/api/day/close", sv, *asJSON)
}

func printReport(ctx context.Context, e *env, d *daemonAPI, method, path string, body any, asJSON bool) error {
	var buf bytes.Buffer
	if err := d.call(ctx, method, path, body, &buf); err != nil {
		return err
	}
	if asJSON {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	var r checkout.Report
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	state := "open"
	if r.Closed {
		state = "closed " + r.ClosedAt.Format(time.RFC3339)
		if r.ClosedBy != nil {
			state += " by " + r.ClosedBy.Cashier + ", authorised by " + r.ClosedBy.Supervisor
		}
	}
	w := e.stdout
	fmt.Fprintf(w, "day %s (%s) %s\n", r.Day, state, r.Currency)
	for _, s := range r.Schemes {
		fmt.Fprintf(w, "  %-12s %5d %14s\n", s.Scheme, s.Count, checkout.FormatMinor(s.Amount, r.Currency))
	}
	fmt.Fprintf(w, "sales %s (%d), discounts %s\n", checkout.FormatMinor(r.Sales, r.Currency), r.Count, checkout.FormatMinor(r.Discounts, r.Currency))
	fmt.Fprintf(w, "wallets %s (%d), cash %s (%d), cash refunds %s, cash in the drawer %s\n", checkout.FormatMinor(r.Wallet, r.Currency), r.WalletCount,
		checkout.FormatMinor(r.Cash, r.Currency), r.CashCount, checkout.FormatMinor(r.CashRefunds, r.Currency), checkout.FormatMinor(r.CashDrawer, r.Currency))
	fmt.Fprintf(w, "refunds %s (%d), voids %s (%d), net %s\n", checkout.FormatMinor(r.Refunds, r.Currency), r.RefundCount,
		checkout.FormatMinor(r.Voids, r.Currency), r.VoidCount, checkout.FormatMinor(r.Net, r.Currency))
	fmt.Fprintf(w, "declined %d, reversed %d, waiting for the customer %d\n", r.Declined, r.Reversed, r.UserPaying)
	fmt.Fprintf(w, "offline pending %s (%d), offline declined (loss) %s (%d)\n", checkout.FormatMinor(r.OfflinePending, r.Currency),
		r.OfflinePendingCount, checkout.FormatMinor(r.OfflineDeclined, r.Currency), r.OfflineDeclinedCount)
	if q := r.QR; q != nil {
		// The paid ones are in the schemes, as merchant_qr.
		fmt.Fprintf(w, "shop's QR codes: paid %s (%d), still open %d, unpaid %d\n", checkout.FormatMinor(q.Paid, r.Currency), q.PaidCount, q.Open, len(q.Ended))
		for _, l := range q.Ended {
			fmt.Fprintf(w, "  %-22s %14s %s\n", l.Ref, checkout.FormatMinor(l.Amount, r.Currency), l.Status)
		}
	}
	return nil
}
