// Package benchsync holds the end-to-end benchmark of the sync path: a
// backlog of records in a device's outbox drained through a real Mosquitto
// by the link to a platform server applying them into its store, next to
// the ceiling of the broker and paho themselves (a raw QoS 1 publisher and
// subscriber). It has no code of its own; docs/benchmarks.md records the
// figures.
//
// Run it with
//
//	go test -run '^$' -bench Drain -benchtime=1x ./sync/benchsync
package benchsync
