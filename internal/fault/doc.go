// Package fault breaks things for real in tests: a TCP proxy that cuts or
// freezes the connections it carries, a NATS cluster whose nodes can be
// killed, and the one-line summary that every fault scenario prints so
// scripts can read its outcome.
package fault
