package main

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
)

// The simulated customer comes from the configuration: with these rules
// a 1345 code waits for the phone and 1556, which walks away by default,
// pays at once.
func TestServeUsesConfiguredRules(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	path, pub := platformConf(t, b.URL())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("rules: {confirm_prefixes: [\"1345\"], abandon_prefixes: [], confirm_above: 200000, confirm_after: 10m}\nbatch_delay: 1ms\n")
	f.Close()
	cfg, err := config.LoadPlatform(path)
	if err != nil {
		t.Fatal(err)
	}
	d := startDevice(t, path, b.URL(), pub, "shop-1", "till-1")
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	err = store.Enrol(context.Background(), "shop-1", "till-1", d.key)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := serve(ctx, cfg, io.Discard); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	for _, tc := range []struct {
		amount int64
		code   string
		want   string
	}{
		{1234, "134567890123456780", checkout.StatusUserPaying},
		{1234, "155667890123456780", checkout.StatusApproved},
		{150000, "144567890123456780", checkout.StatusApproved},
		{200001, "144567890123456780", checkout.StatusUserPaying},
	} {
		p, err := d.s.Pay(ctx, tc.amount, tc.code)
		if err != nil || p.Status != tc.want {
			t.Errorf("pay %d with %s: %+v, %v; want %s", tc.amount, tc.code, p, err, tc.want)
		}
	}
}
