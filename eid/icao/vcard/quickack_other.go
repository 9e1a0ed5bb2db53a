//go:build !linux

package vcard

// tcpQuickACK is Linux's; elsewhere setting option 0 fails harmlessly.
const tcpQuickACK = 0
