package checkout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

func TestParseOfflineLimits(t *testing.T) {
	l, err := ParseOfflineLimits([]byte(`{"per_transaction":20000,"total":100000}`))
	if err != nil || l.PerTransaction != 20000 || l.Total != 100000 {
		t.Fatalf("%+v %v", l, err)
	}
	if l, err := ParseOfflineLimits([]byte(`{"per_transaction":0,"total":0}`)); err != nil || l.Total != 0 {
		t.Fatalf("zero limits (no offline payments) refused: %v", err)
	}
	hostile := []string{
		``, `{`, `null`, `[]`, `"x"`, `{"per_transaction":"200"}`, `{"per_transaction":1.5,"total":2}`,
		`{"per_transaction":-1,"total":5}`, `{"per_transaction":10,"total":5}`, `{"total":1e30}`,
		`{"per_transaction":1,"total":2,"extra":true}`, `{"per_transaction":1,"total":2}{}`,
		`{"per_transaction":99999999999999999999,"total":1}`, `{"total":100000000000}`,
		"{\"per_transaction\":1,\"total\":2\x00}", strings.Repeat("[", 10<<20),
	}
	for _, in := range hostile {
		if l, err := ParseOfflineLimits([]byte(in)); err == nil {
			t.Errorf("ParseOfflineLimits(%.40q) = %+v, accepted", in, l)
		} else if !errors.Is(err, ErrArgs) {
			t.Errorf("ParseOfflineLimits(%.40q): %v does not wrap ErrArgs", in, err)
		}
	}
}

func TestParsePromotions(t *testing.T) {
	good := `{"promotions":[{"id":"wx-nov","scheme":"wechat_pay","percent_off":10,"max_off":2000,"min_amount":100,
		"from":"2026-11-01T00:00:00+08:00","until":"2026-12-01T00:00:00+08:00","label":"WeChat Pay -10%"}]}`
	ps, err := ParsePromotions([]byte(good))
	if err != nil || len(ps) != 1 || ps[0].PercentOff != 10 || ps[0].Scheme != "wechat_pay" {
		t.Fatalf("%+v %v", ps, err)
	}
	if ps, err := ParsePromotions([]byte(`{"promotions":[]}`)); err != nil || len(ps) != 0 {
		t.Fatalf("empty list refused: %v", err)
	}
	p := func(fields string) string {
		return `{"promotions":[{` + fields + `}]}`
	}
	const dates = `"from":"2026-11-01T00:00:00Z","until":"2026-12-01T00:00:00Z"`
	many := make([]string, MaxPromotions+1)
	for i := range many {
		many[i] = `{"id":"p` + strings.Repeat("x", i) + `","percent_off":5,` + dates + `}`
	}
	hostile := []string{
		``, `{}x`, `{"promotions":{}}`, `{"promotions":[1]}`, `{"promotions":[{}]}`,
		p(`"id":"a","percent_off":0,` + dates), p(`"id":"a","percent_off":101,` + dates),
		p(`"id":"a","percent_off":-10,` + dates), p(`"id":"a","percent_off":10.5,` + dates),
		p(`"id":"","percent_off":10,` + dates), p(`"id":"a/b","percent_off":10,` + dates),
		p(`"id":"a","scheme":"bitcoin","percent_off":10,` + dates),
		p(`"id":"a","percent_off":10,"from":"2026-12-01T00:00:00Z","until":"2026-11-01T00:00:00Z"`),
		p(`"id":"a","percent_off":10,"from":"yesterday","until":"2026-11-01T00:00:00Z"`),
		p(`"id":"a","percent_off":10`), p(`"id":"a","percent_off":10,"max_off":-1,` + dates),
		p(`"id":"a","percent_off":10,"label":"` + strings.Repeat("x", 81) + `",` + dates),
		p(`"id":"a","percent_off":10,"free":true,` + dates),
		p(`"id":"a","percent_off":10,"site":"a b",` + dates),
		`{"promotions":[{"id":"a","percent_off":1,` + dates + `},{"id":"a","percent_off":2,` + dates + `}]}`,
		`{"promotions":[` + strings.Join(many, ",") + `]}`,
		`{"promotions":[` + strings.Repeat(`{"id":"a"},`, 1<<20) + `]}`,
	}
	for _, in := range hostile {
		if ps, err := ParsePromotions([]byte(in)); err == nil {
			t.Errorf("ParsePromotions(%.60q) = %+v, accepted", in, ps)
		} else if !errors.Is(err, ErrArgs) {
			t.Errorf("ParsePromotions(%.60q): %v does not wrap ErrArgs", in, err)
		}
	}
}

func TestPromotionOff(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	pr := Promotion{ID: "p", Scheme: "alipay", Site: "s1", PercentOff: 15, MinAmount: 1000, MaxOff: 300, From: from, Until: from.AddDate(0, 1, 0)}
	in := from.Add(time.Hour)
	cases := []struct {
		scheme, site string
		amount       int64
		at           time.Time
		want         int64
	}{
		{"alipay", "s1", 1000, in, 150},
		{"alipay", "s1", 1005, in, 150}, // rounds the discount down
		{"alipay", "s1", 999, in, 0},    // below the minimum
		{"alipay", "s1", 100000, in, 300},
		{"wechat_pay", "s1", 1000, in, 0},
		{"alipay", "s2", 1000, in, 0},
		{"alipay", "s1", 1000, from.Add(-time.Second), 0},
		{"alipay", "s1", 1000, pr.Until, 0},
	}
	for _, c := range cases {
		if got := pr.Off(c.scheme, c.site, c.amount, c.at); got != c.want {
			t.Errorf("Off(%s, %s, %d, %v) = %d, want %d", c.scheme, c.site, c.amount, c.at, got, c.want)
		}
	}
	all := Promotion{PercentOff: 100, From: from, Until: pr.Until}
	if got := all.Off("alipay", "", 500, in); got != 499 {
		t.Errorf("100%% off took %d of 500: a payment must stay above zero", got)
	}
}

func FuzzParseOfflineLimits(f *testing.F) {
	for _, s := range []string{`{"per_transaction":20000,"total":100000}`, `{"per_transaction":-1}`, `{`, `{"total":1e99}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseOfflineLimits(b)
		if err != nil {
			if !errors.Is(err, ErrArgs) {
				t.Fatalf("error %v does not wrap ErrArgs", err)
			}
			return
		}
		if l.PerTransaction < 0 || l.PerTransaction > l.Total || l.Total > MaxAmount {
			t.Fatalf("accepted %+v", l)
		}
	})
}

func FuzzParsePromotions(f *testing.F) {
	for _, s := range []string{
		`{"promotions":[{"id":"a","scheme":"wechat_pay","percent_off":10,"from":"2026-11-01T00:00:00Z","until":"2026-12-01T00:00:00Z"}]}`,
		`{"promotions":[]}`, `{"promotions":[{"id":"a","percent_off":0}]}`, `[`, `{"promotions":null}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParsePromotions(b)
		if err != nil {
			if !errors.Is(err, ErrArgs) {
				t.Fatalf("error %v does not wrap ErrArgs", err)
			}
			return
		}
		for _, p := range ps {
			for _, amount := range []int64{1, 2, 999, 123456, MaxAmount} {
				off := p.Off(p.Scheme, p.Site, amount, now)
				if off < 0 || (off > 0 && off >= amount) {
					t.Fatalf("promotion %+v takes %d off %d", p, off, amount)
				}
			}
		}
	})
}

func TestConfigCommand(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	apply := func(args string) error {
		return s.ApplyCommand(ctx, &envelope.Command{ID: "c", Name: CommandConfig, Args: []byte(args)})
	}
	const promo = `{"id":"a","percent_off":5,"from":"2026-11-01T00:00:00Z","until":"2026-12-01T00:00:00Z"}`
	// Other flows' fields are theirs: allowed and ignored.
	if err := apply(`{"offline_limits":{"per_transaction":10,"total":20},"promotions":[` + promo + `],"revocations":{"x":1}}`); err != nil {
		t.Fatal(err)
	}
	if l := s.Limits(ctx); l.Total != 20 || len(s.Promotions(ctx)) != 1 {
		t.Fatalf("config not applied: %+v %+v", l, s.Promotions(ctx))
	}
	// A config without the fields keeps what was set.
	if err := apply(`{"revocations":{}}`); err != nil || s.Limits(ctx).Total != 20 || len(s.Promotions(ctx)) != 1 {
		t.Fatalf("config without our fields changed them: %v", err)
	}
	for _, bad := range []string{
		`[`, `{"offline_limits":{"per_transaction":30,"total":20}}`, `{"offline_limits":"lots"}`,
		`{"promotions":[{"id":"a","percent_off":500}]}`, `{"promotions":[` + promo + `],"offline_limits":{"total":-1}}`,
		`{"x":"` + strings.Repeat("x", MaxArgs) + `"}`,
	} {
		if err := apply(bad); !errors.Is(err, ErrArgs) {
			t.Errorf("config %.50q: %v, want ErrArgs", bad, err)
		}
	}
	if l := s.Limits(ctx); l.Total != 20 || len(s.Promotions(ctx)) != 1 {
		t.Fatalf("a refused config changed the settings: %+v", l)
	}
	// Commands of other flows are not ours to refuse.
	if err := s.ApplyCommand(ctx, &envelope.Command{ID: "d", Name: "sync"}); err != nil {
		t.Fatal(err)
	}
}
