// Command guichetd is the appliance daemon: it drives the counter's
// hardware, takes payments and activations, stores them durably and syncs
// them with the platform. It runs until SIGTERM or SIGINT, then stops
// without losing anything that was reported stored.
//
// Exit status: 0 after a clean stop, 1 on a runtime failure (the supervisor
// restarts it), 2 on a configuration error (restarting will not help).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/daemon"
	"github.com/guichet/guichet/internal/logging"
	"github.com/guichet/guichet/internal/logring"
)

func main() {
	path := flag.String("config", "/etc/guichet/guichetd.yaml", "configuration `FILE`")
	check := flag.Bool("check", false, "validate the configuration and exit")
	flag.Parse()
	cfg, err := config.LoadDaemon(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guichetd:", err)
		os.Exit(2)
	}
	// The technician's page shows the last records, redacted: the ring
	// is in the default logger too, which some components fall back on.
	log := logging.New(os.Stderr, cfg.LogLevel)
	log = slog.New(logring.New(daemon.LogRecords).Handler(log.Handler()))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *check {
		// Every device is tried and reported, so that one run shows all
		// that is wrong with the counter.
		outs, err := daemon.CheckDevices(ctx, cfg)
		daemon.WriteOutcomes(os.Stdout, outs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "guichetd: %d of %d devices failed\n", countFailed(outs), len(outs))
			os.Exit(2)
		}
		fmt.Println("configuration ok")
		return
	}
	if err := daemon.Run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "guichetd:", err)
		os.Exit(1)
	}
}

func countFailed(outs []daemon.Outcome) int {
	n := 0
	for _, o := range outs {
		if o.Err != nil {
			n++
		}
	}
	return n
}
