package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/guichet/guichet/checkout/paycode"
)

func init() {
	register("paycode", "classify and validate a customer's payment code", runPaycode)
}

// paycodeResult is the JSON line that scripts read.
type paycodeResult struct {
	Scheme paycode.Scheme `json:"scheme"`
	Valid  bool           `json:"valid"`
	Reason string         `json:"reason"`
}

// runPaycode prints {"scheme","valid","reason"} for CODE and fails (exit
// status 1) when the code is not valid. It never prints the code itself.
func runPaycode(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "paycode", "CODE")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one CODE argument", errUsage)
	}
	code, err := paycode.Classify(fs.Arg(0))
	res := paycodeResult{Scheme: code.Scheme, Valid: err == nil}
	var pe *paycode.Error
	if errors.As(err, &pe) {
		res.Reason = pe.Reason
	} else if err != nil {
		res.Reason = err.Error()
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	if werr := enc.Encode(res); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("not valid: %s", res.Reason)
	}
	return nil
}
