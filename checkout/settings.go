package checkout

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/guichet/guichet/checkout/paycode"
	"github.com/guichet/guichet/sync/envelope"
)

// Names of the platform's commands this flow applies (docs/protocol.md,
// "Commands and configuration"). The retained "config" command may carry
// both as fields of its args.
const (
	CommandOfflineLimits = "offline_limits"
	CommandPromotions    = "promotions"
	CommandConfig        = "config"
)

// MaxArgs bounds a command's args this flow reads.
const MaxArgs = 64 << 10

// MaxPromotions bounds the promotions one command may carry.
const MaxPromotions = 64

// OfflineLimits are the args of an offline_limits command: how much the
// device may approve without the platform, in minor units, per payment
// and in all (payments approved offline and not yet decided).
//
//	{"per_transaction": 20000, "total": 100000}
type OfflineLimits struct {
	PerTransaction int64 `json:"per_transaction"`
	Total          int64 `json:"total"`
}

// Promotion is a discount the platform pushes: PercentOff percent off
// payments with Scheme (all schemes when empty) at Site (every site when
// empty), from From until Until, for amounts of at least MinAmount, at
// most MaxOff off (no cap when 0).
type Promotion struct {
	ID         string    `json:"id"`
	Scheme     string    `json:"scheme,omitempty"`
	Site       string    `json:"site,omitempty"`
	PercentOff int64     `json:"percent_off"`
	MinAmount  int64     `json:"min_amount,omitempty"`
	MaxOff     int64     `json:"max_off,omitempty"`
	From       time.Time `json:"from"`
	Until      time.Time `json:"until"`
	// Label is shown on the receipt.
	Label string `json:"label,omitempty"`
}

// PromotionsArgs are the args of a promotions command; the list replaces
// the previous one, an empty list ends every promotion.
//
//	{"promotions":[{"id":"wx-nov","scheme":"wechat_pay","percent_off":10,"max_off":2000,
//	  "from":"2026-11-01T00:00:00+08:00","until":"2026-12-01T00:00:00+08:00","label":"WeChat Pay -10%"}]}
type PromotionsArgs struct {
	Promotions []Promotion `json:"promotions"`
}

// ErrArgs is wrapped by errors about a command's args.
var ErrArgs = errors.New("checkout: bad command args")

func decodeArgs(args []byte, v any) error {
	if len(args) > MaxArgs {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrArgs, len(args), MaxArgs)
	}
	if t := bytes.TrimLeft(args, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: want a JSON object", ErrArgs)
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrArgs, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after JSON", ErrArgs)
	}
	return nil
}

// ParseOfflineLimits reads and checks the args of an offline_limits command.
func ParseOfflineLimits(args []byte) (OfflineLimits, error) {
	var l OfflineLimits
	if err := decodeArgs(args, &l); err != nil {
		return OfflineLimits{}, err
	}
	if err := l.check(); err != nil {
		return OfflineLimits{}, err
	}
	return l, nil
}

func (l OfflineLimits) check() error {
	switch {
	case l.PerTransaction < 0 || l.Total < 0 || l.PerTransaction > MaxAmount || l.Total > MaxAmount:
		return fmt.Errorf("%w: offline limits must be between 0 and %d", ErrArgs, int64(MaxAmount))
	case l.PerTransaction > l.Total:
		return fmt.Errorf("%w: per_transaction limit above the total limit", ErrArgs)
	}
	return nil
}

// ParsePromotions reads and checks the args of a promotions command.
func ParsePromotions(args []byte) ([]Promotion, error) {
	var a PromotionsArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, err
	}
	if err := checkPromotions(a.Promotions); err != nil {
		return nil, err
	}
	return a.Promotions, nil
}

func checkPromotions(ps []Promotion) error {
	if len(ps) > MaxPromotions {
		return fmt.Errorf("%w: %d promotions, at most %d", ErrArgs, len(ps), MaxPromotions)
	}
	seen := map[string]bool{}
	for i, p := range ps {
		bad := func(why string) error { return fmt.Errorf("%w: promotion %d: %s", ErrArgs, i, why) }
		switch {
		case !validName(p.ID, 64) || seen[p.ID]:
			return bad("id missing, repeated or not [A-Za-z0-9._-]{1,64}")
		case p.Scheme != "" && !knownScheme(p.Scheme):
			return bad("unknown scheme " + strconv.Quote(clip(p.Scheme)))
		case p.Site != "" && !validName(p.Site, 64):
			return bad("bad site")
		case p.PercentOff < 1 || p.PercentOff > 100:
			return bad("percent_off must be 1 to 100")
		case p.MinAmount < 0 || p.MinAmount > MaxAmount || p.MaxOff < 0 || p.MaxOff > MaxAmount:
			return bad("min_amount and max_off must be between 0 and " + strconv.FormatInt(MaxAmount, 10) + " minor units")
		case p.From.IsZero() || p.Until.IsZero() || !p.Until.After(p.From):
			return bad("from and until must be set, until after from")
		case len(p.Label) > 80:
			return bad("label longer than 80 bytes")
		}
		seen[p.ID] = true
	}
	return nil
}

func knownScheme(s string) bool {
	switch paycode.Scheme(s) {
	case paycode.WeChatPay, paycode.Alipay, paycode.UnionPay, paycode.EMVCPM:
		return true
	}
	return false
}

func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// configArgs is the part of the retained config command this flow reads;
// other flows read other fields, so unknown fields are allowed here.
type configArgs struct {
	OfflineLimits *OfflineLimits `json:"offline_limits"`
	Promotions    *[]Promotion   `json:"promotions"`
}

// settings are what the platform set, kept in the settings table.
type settings struct {
	Limits     *OfflineLimits `json:"offline_limits,omitempty"`
	Promotions []Promotion    `json:"promotions,omitempty"`
}

// ApplyCommand applies the platform's offline_limits, promotions and config
// commands; the link's router hands it the commands it checked (signature,
// device, expiry, once per id) whose names are in Commands.
func (s *Service) ApplyCommand(ctx context.Context, cmd *envelope.Command) error {
	var lim *OfflineLimits
	var promos *[]Promotion
	switch cmd.Name {
	case CommandOfflineLimits:
		l, err := ParseOfflineLimits(cmd.Args)
		if err != nil {
			return err
		}
		lim = &l
	case CommandPromotions:
		ps, err := ParsePromotions(cmd.Args)
		if err != nil {
			return err
		}
		promos = &ps
	case CommandQRPaid:
		return s.applyQRPaid(ctx, cmd.Args)
	case CommandConfig:
		if len(cmd.Args) > MaxArgs {
			return fmt.Errorf("%w: %d bytes, at most %d", ErrArgs, len(cmd.Args), MaxArgs)
		}
		var c configArgs
		if err := json.Unmarshal(cmd.Args, &c); err != nil {
			return fmt.Errorf("%w: %v", ErrArgs, err)
		}
		if c.OfflineLimits != nil {
			if err := c.OfflineLimits.check(); err != nil {
				return err
			}
		}
		if c.Promotions != nil {
			if err := checkPromotions(*c.Promotions); err != nil {
				return err
			}
		}
		lim, promos = c.OfflineLimits, c.Promotions
	default:
		return nil
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	cur, err := s.loadSettings(ctx)
	if err != nil {
		return err
	}
	next := *cur
	if lim != nil {
		next.Limits = lim
	}
	if promos != nil {
		next.Promotions = *promos
	}
	b, _ := json.Marshal(next)
	if err := s.Store.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO settings(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, settingsKey, b)
		return err
	}); err != nil {
		return fmt.Errorf("checkout: store settings: %w", err)
	}
	s.settings = &next
	s.log().Info("platform settings applied", "command", cmd.Name, "id", cmd.ID)
	return nil
}

// loadSettings returns the settings, read from the store once; the
// caller holds settingsMu.
func (s *Service) loadSettings(ctx context.Context) (*settings, error) {
	if s.settings != nil {
		return s.settings, nil
	}
	st := &settings{}
	if _, err := queryDoc(ctx, s.Store.Reader(), st, `SELECT v FROM settings WHERE k = ?`, settingsKey); err != nil {
		return nil, fmt.Errorf("checkout: read settings: %w", err)
	}
	s.settings = st
	return st, nil
}

func (s *Service) currentSettings(ctx context.Context) settings {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	st, err := s.loadSettings(ctx)
	if err != nil {
		s.log().Error("settings", "err", err)
		return settings{}
	}
	return *st
}

// Limits returns the offline limits in force: the platform's, or the
// Service's defaults until the platform sets some.
func (s *Service) Limits(ctx context.Context) OfflineLimits {
	if st := s.currentSettings(ctx); st.Limits != nil {
		return *st.Limits
	}
	return OfflineLimits{PerTransaction: s.OfflinePerTransaction, Total: s.OfflineTotal}
}

// Promotions returns the promotions the platform pushed last.
func (s *Service) Promotions(ctx context.Context) []Promotion {
	return s.currentSettings(ctx).Promotions
}

// OfflinePending returns the count and sum of payments approved offline
// that the platform has not decided yet.
func (s *Service) OfflinePending(ctx context.Context) (int, int64, error) {
	var n int
	var sum int64
	// The condition is the partial index payments_offline's.
	err := s.Store.Reader().QueryRowContext(ctx, `SELECT count(*), coalesce(sum(amount), 0) FROM payments
		WHERE offline AND status IN ('approved_offline', 'user_paying', 'queued')`).Scan(&n, &sum)
	return n, sum, err
}

// offlineAllowed checks amount against the offline limits; the caller
// holds offlineMu.
func (s *Service) offlineAllowed(ctx context.Context, amount int64) error {
	lim := s.Limits(ctx)
	if amount > lim.PerTransaction {
		return fmt.Errorf("%w (%s above the %s allowed per payment offline)", ErrNeedsNetwork, FormatMinor(amount, s.Currency), FormatMinor(lim.PerTransaction, s.Currency))
	}
	_, pending, err := s.OfflinePending(ctx)
	if err != nil {
		return fmt.Errorf("checkout: offline total: %w", err)
	}
	if pending+amount > lim.Total {
		return fmt.Errorf("%w (%s already approved offline, total allowed %s)", ErrNeedsNetwork, FormatMinor(pending, s.Currency), FormatMinor(lim.Total, s.Currency))
	}
	return nil
}

// bestPromotion returns the promotion that takes most off amount now.
func (s *Service) bestPromotion(scheme string, amount int64, now time.Time) (Promotion, int64) {
	var best Promotion
	var bestOff int64
	for _, p := range s.Promotions(context.Background()) {
		if off := p.Off(scheme, s.Site, amount, now); off > bestOff {
			best, bestOff = p, off
		}
	}
	return best, bestOff
}

// Off returns what p takes off amount paid with scheme at site at time
// now: 0 when it does not apply. It never takes the whole amount.
func (p Promotion) Off(scheme, site string, amount int64, now time.Time) int64 {
	if (p.Scheme != "" && p.Scheme != scheme) || (p.Site != "" && p.Site != site) ||
		now.Before(p.From) || !now.Before(p.Until) || amount < p.MinAmount || amount <= 1 {
		return 0
	}
	off := amount * p.PercentOff / 100 // the discount rounds down to the cent
	if p.MaxOff > 0 && off > p.MaxOff {
		off = p.MaxOff
	}
	if off >= amount {
		off = amount - 1
	}
	return off
}
