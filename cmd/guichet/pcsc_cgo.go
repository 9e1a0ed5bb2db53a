//go:build cgo

package main

// The PC/SC card reader driver links pcsclite through cgo; without cgo,
// internal/daemon registers "pcsc" as a driver that says so.
import _ "github.com/guichet/guichet/device/cardreader/pcsc" // registers card reader "pcsc"
