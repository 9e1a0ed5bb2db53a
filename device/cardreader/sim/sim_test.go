package sim

import (
	"context"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/cardreader"
)

func TestConfiguredCard(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("card: {kind: sim, surname: DOE, document_number: X1}\ndelay: 1ms\n"), &n); err != nil {
		t.Fatal(err)
	}
	r, err := cardreader.Drivers.Open(context.Background(), "sim", n.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.ReadCard(context.Background(), cardreader.Access{})
	if err != nil || c.Surname != "DOE" || c.DocumentNumber != "X1" || c.ReadAt.IsZero() {
		t.Fatalf("card %+v %v", c, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow, _ := New(Options{Delay: time.Hour})
	if _, err := slow.ReadCard(ctx, cardreader.Access{}); err == nil {
		t.Fatal("read did not stop with its context")
	}
	if _, err := New(Options{Photo: "/nonexistent.jpg"}); err == nil {
		t.Fatal("missing photo accepted")
	}
}
