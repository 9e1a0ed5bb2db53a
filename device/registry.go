package device

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// ErrUnknownField is the reason of an OptionError for an option the driver
// does not have, most often a misspelling.
var ErrUnknownField = errors.New("unknown field")

// OptionError is an option a driver refused. Path says where it is, from
// the driver's options: "options.address", "options.lines.drawer.pin",
// "options.codes[2]"; the caller puts the device's own place in the
// configuration before it.
type OptionError struct {
	Path string
	Err  error
}

// Error returns the path and the reason, as "options.adress: unknown field".
func (e *OptionError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *OptionError) Unwrap() error { return e.Err }

// Nest puts field before the path of the *OptionError in err, for a
// driver that hands part of its options to another driver: "options.widht"
// from the camera becomes "options.camera_options.widht", an *OptionError
// of the driver that nests. Errors without an *OptionError are returned
// as they are.
func Nest(field string, err error) error {
	var oe *OptionError
	if !errors.As(err, &oe) {
		return err
	}
	return &OptionError{Path: "options." + field + strings.TrimPrefix(oe.Path, "options"), Err: oe.Err}
}

// At places err, from opening the device found at field of the
// configuration ("devices.display"), there: an error holding an
// *OptionError reads "devices.display.options.adress: unknown field", any
// other error "devices.display: " and the error. The result wraps err.
func At(field string, err error) error {
	if err == nil {
		return nil
	}
	return &fieldError{field: field, err: err}
}

type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string {
	// The option's path says all: the driver's name is written beside it.
	var oe *OptionError
	if errors.As(e.err, &oe) {
		return e.field + "." + oe.Error()
	}
	return e.field + ": " + e.err.Error()
}

func (e *fieldError) Unwrap() error { return e.err }

// Registry maps driver names to constructors for one kind of device.
type Registry[T any] struct {
	kind string
	mu   sync.Mutex
	open map[string]func(ctx context.Context, opts *yaml.Node) (T, error)
}

// NewRegistry returns an empty registry for the kind of device named kind.
func NewRegistry[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, open: map[string]func(context.Context, *yaml.Node) (T, error){}}
}

// Register adds the driver name to r. Its options, as written in the
// configuration, are decoded strictly into O before open is called: an
// option O does not have, or a value of the wrong type, is an
// *OptionError naming it, and open is not called. A driver without
// options takes struct{}. Register panics if name is taken, as that is a
// programming error caught at start.
func Register[T, O any](r *Registry[T], name string, open func(ctx context.Context, opts O) (T, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.open[name]; dup {
		panic(fmt.Sprintf("device: %s driver %q registered twice", r.kind, name))
	}
	r.open[name] = func(ctx context.Context, n *yaml.Node) (T, error) {
		var o O
		if err := DecodeOptions(n, &o); err != nil {
			var zero T
			return zero, err
		}
		return open(ctx, o)
	}
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

// Open opens the driver name with opts, the driver's options as written in
// the configuration; nil or an empty node means none. Its errors say which
// driver failed; a refused option is an *OptionError within, which At
// places in the configuration.
func (r *Registry[T]) Open(ctx context.Context, name string, opts *yaml.Node) (T, error) {
	r.mu.Lock()
	open, ok := r.open[name]
	r.mu.Unlock()
	if !ok {
		var zero T
		return zero, fmt.Errorf("unknown %s driver %q (known: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	d, err := open(ctx, opts)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s driver %q: %w", r.kind, name, err)
	}
	return d, nil
}

// DecodeOptions decodes the options n into v, a pointer, refusing any
// field v does not have and any value of the wrong type with an
// *OptionError whose path starts at "options". A nil, empty or null n
// leaves v as it is.
//
// yaml.v3 checks unknown fields only in a Decoder with KnownFields, whose
// errors say the line but not the field's path, and Node.Decode does not
// check them at all; so the node is walked against v's type first, which
// names the field, then decoded.
func DecodeOptions(n *yaml.Node, v any) error {
	if n == nil {
		return nil
	}
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if isNull(n) {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("device: decoding options into %T, not a pointer", v)
	}
	w := walker{budget: maxNodes}
	if err := w.check("options", n, rv.Type().Elem(), 0); err != nil {
		return err
	}
	if err := n.Decode(v); err != nil {
		return &OptionError{Path: "options", Err: yamlReason(err)}
	}
	return nil
}

// maxDepth bounds the nesting walked, against aliases that refer to
// their own ancestors, and maxNodes the nodes walked, against aliases
// that multiply ("billion laughs"): a driver's options are a few lines.
const (
	maxDepth = 32
	maxNodes = 10000
)

// walker checks a node tree against a type within a budget of nodes.
type walker struct{ budget int }

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// check walks n against the type t it will be decoded into, and reports the
// first unknown field or wrongly typed value with its path.
func (w *walker) check(path string, n *yaml.Node, t reflect.Type, depth int) error {
	if depth > maxDepth {
		return &OptionError{Path: path, Err: errors.New("nested too deeply")}
	}
	if w.budget--; w.budget < 0 {
		return &OptionError{Path: path, Err: errors.New("too large")}
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return w.check(path, n.Alias, t, depth+1)
	}
	if isNull(n) {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		// Left for the driver to decode: it is someone else's options.
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) || pt.Implements(textType) {
		return leaf(path, n, t)
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return leaf(path, n, t)
		}
		fields, rest := fieldsOf(t)
		return w.checkMapping(path, n, depth, func(key string) (reflect.Type, bool) {
			if ft, ok := fields[key]; ok {
				return ft, true
			}
			if rest != nil {
				return rest.Elem(), true
			}
			return nil, false
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return leaf(path, n, t)
		}
		if err := w.checkMapping(path, n, depth, func(string) (reflect.Type, bool) { return t.Elem(), true }); err != nil {
			return err
		}
		return leaf(path, n, t) // for a key of the wrong type
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return leaf(path, n, t)
		}
		for i, c := range n.Content {
			if err := w.check(fmt.Sprintf("%s[%d]", path, i), c, t.Elem(), depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return leaf(path, n, t)
	}
}

// checkMapping checks each value of the mapping n against the type field
// gives for its key, following merge keys ("<<: *defaults").
func (w *walker) checkMapping(path string, n *yaml.Node, depth int, field func(string) (reflect.Type, bool)) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				for m.Kind == yaml.AliasNode && m.Alias != nil {
					m = m.Alias
				}
				if m.Kind == yaml.MappingNode {
					if err := w.checkMapping(path, m, depth+1, field); err != nil {
						return err
					}
				}
			}
			continue
		}
		p := path + "." + k.Value
		ft, ok := field(k.Value)
		if !ok {
			return &OptionError{Path: p, Err: ErrUnknownField}
		}
		if err := w.check(p, v, ft, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// fieldsOf returns the YAML keys of struct t with their types, by yaml.v3's
// rules: the tag's name, else the field's name in lower case; ",inline"
// structs add their fields, and an ",inline" map (returned as rest) takes
// any other key.
func fieldsOf(t reflect.Type) (fields map[string]reflect.Type, rest reflect.Type) {
	fields = map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if strings.Contains(","+flags+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Struct:
				sub, subRest := fieldsOf(ft)
				for k, v := range sub {
					fields[k] = v
				}
				if subRest != nil {
					rest = subRest
				}
			case reflect.Map:
				rest = ft
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields, rest
}

// leaf decodes n into a new t to see whether its value fits.
func leaf(path string, n *yaml.Node, t reflect.Type) error {
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return &OptionError{Path: path, Err: yamlReason(err)}
	}
	return nil
}

// yamlReason turns yaml's multi-line "yaml: unmarshal errors:\n  line 3:
// cannot unmarshal ..." into one line.
func yamlReason(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	return errors.New(strings.Join(strings.Fields(msg), " "))
}
