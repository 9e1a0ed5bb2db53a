package link

import (
	"context"
	"errors"
	"log/slog"

	"github.com/guichet/guichet/sync/envelope"
)

// Router hands the platform's results and commands to the flows that own
// them, so that no flow sees, or parses, another's. The daemon registers,
// before the link runs, a result handler per record type and a command
// handler per command name:
//
//   - a result goes to the handler of the type of the record it answers,
//     which the link knows from the outbox (it sent that record), never
//     from the shape of the record's key; a result for a type nobody
//     handles (an audit entry's "applied") is dropped;
//   - a command goes to every handler of its name (a "config" command
//     carries several flows' settings); a command nobody handles is
//     refused, logged and counted in Status.Refused and Status.Refusals
//     ("unhandled"), and so is one a handler returns an error for
//     ("failed"): see downlink.go for the checks that come first.
//
// Register before Run: the tables are read without a lock.
type Router struct {
	results  map[string]func(envelope.Result)
	commands map[string][]CommandHandler
	raw      map[string]func([]byte)
}

// CommandHandler applies one checked command; its error is logged with
// the command's id and name.
type CommandHandler func(ctx context.Context, cmd *envelope.Command) error

// NewRouter returns a router with nothing registered.
func NewRouter() *Router {
	return &Router{results: map[string]func(envelope.Result){}, commands: map[string][]CommandHandler{}, raw: map[string]func([]byte){}}
}

// HandleRaw sends the payload of every message on topic, one of the
// device's down/ topics, to h as it is, without the platform's signature
// check: for messages that carry their own proof, such as a renewed
// certificate, which must chain to the CA. h runs in the link's loop and
// must not block.
func (r *Router) HandleRaw(topic string, h func(payload []byte)) {
	r.raw[topic] = h
}

// HandleResults sends the results of records of the given types to h. A
// type has one handler: a later registration replaces the earlier one.
func (r *Router) HandleResults(h func(envelope.Result), recordTypes ...string) {
	for _, t := range recordTypes {
		r.results[t] = h
	}
}

// HandleCommands sends the commands of the given names to h, after the
// handlers registered before it.
func (r *Router) HandleCommands(h CommandHandler, names ...string) {
	for _, n := range names {
		r.commands[n] = append(r.commands[n], h)
	}
}

// result hands res, the answer to a record of type recordType, to its
// handler; it reports whether there was one.
func (r *Router) result(recordType string, res envelope.Result) bool {
	if r == nil {
		return false
	}
	h := r.results[recordType]
	if h == nil {
		return false
	}
	h(res)
	return true
}

// handles reports whether a handler takes commands named name.
func (r *Router) handles(name string) bool {
	return r != nil && len(r.commands[name]) > 0
}

// command hands cmd to its handlers; it reports whether there were any,
// and their errors, joined.
func (r *Router) command(ctx context.Context, cmd *envelope.Command, log *slog.Logger) (bool, error) {
	if !r.handles(cmd.Name) {
		return false, nil
	}
	var errs []error
	for _, h := range r.commands[cmd.Name] {
		if err := h(ctx, cmd); err != nil {
			log.Warn("command refused", "id", cmd.ID, "name", cmd.Name, "err", err)
			errs = append(errs, err)
		}
	}
	return true, errors.Join(errs...)
}

// rawHandler returns the handler of unsigned messages on topic, or nil.
func (r *Router) rawHandler(topic string) func([]byte) {
	if r == nil {
		return nil
	}
	return r.raw[topic]
}
