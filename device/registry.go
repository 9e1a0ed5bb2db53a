package device

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Options carries a driver's own settings from the configuration file. A
// driver decodes them into its own typed struct; *yaml.Node satisfies it.
type Options interface {
	Decode(v any) error
}

// NoOptions is Options for a driver configured with nothing.
type NoOptions struct{}

// Decode leaves v as it is.
func (NoOptions) Decode(any) error { return nil }

// Registry maps driver names to constructors for one kind of device.
type Registry[T any] struct {
	kind string
	mu   sync.Mutex
	open map[string]func(ctx context.Context, opts Options) (T, error)
}

// NewRegistry returns an empty registry for the kind of device named kind.
func NewRegistry[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, open: map[string]func(context.Context, Options) (T, error){}}
}

// Register adds the driver name. It panics if name is taken, as that is a
// programming error caught at start.
func (r *Registry[T]) Register(name string, open func(ctx context.Context, opts Options) (T, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.open[name]; dup {
		panic(fmt.Sprintf("device: %s driver %q registered twice", r.kind, name))
	}
	r.open[name] = open
}

// Names lists the registered drivers, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.open))
	for n := range r.open {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether the driver name is registered.
func (r *Registry[T]) Has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.open[name]
	return ok
}

// Open opens the driver name with opts.
func (r *Registry[T]) Open(ctx context.Context, name string, opts Options) (T, error) {
	r.mu.Lock()
	open, ok := r.open[name]
	r.mu.Unlock()
	if !ok {
		var zero T
		return zero, fmt.Errorf("unknown %s driver %q (known: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	if opts == nil {
		opts = NoOptions{}
	}
	d, err := open(ctx, opts)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s driver %q: %w", r.kind, name, err)
	}
	return d, nil
}
