package device

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type opts map[string]string

func (o opts) Decode(v any) error {
	p, ok := v.(*map[string]string)
	if !ok {
		return errors.New("want a map")
	}
	*p = o
	return nil
}

func TestRegistry(t *testing.T) {
	r := NewRegistry[string]("widget")
	r.Register("b", func(_ context.Context, o Options) (string, error) {
		var m map[string]string
		if err := o.Decode(&m); err != nil {
			return "", err
		}
		if m["fail"] != "" {
			return "", errors.New("refused")
		}
		return "b:" + m["x"], nil
	})
	r.Register("a", func(context.Context, Options) (string, error) { return "a", nil })
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Fatalf("names %s", got)
	}
	if v, err := r.Open(context.Background(), "b", opts{"x": "1"}); err != nil || v != "b:1" {
		t.Fatalf("open b: %q %v", v, err)
	}
	if v, err := r.Open(context.Background(), "a", nil); err != nil || v != "a" {
		t.Fatalf("open a with no options: %q %v", v, err)
	}
	if _, err := r.Open(context.Background(), "c", nil); err == nil || !strings.Contains(err.Error(), `unknown widget driver "c" (known: a, b)`) {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, err := r.Open(context.Background(), "b", opts{"fail": "1"}); err == nil || !strings.Contains(err.Error(), `widget driver "b": refused`) {
		t.Fatalf("failing driver: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	r.Register("a", nil)
}
