// Command guichet is the command line for technicians and scripts.
//
// Each subcommand lives in its own file and registers itself in init with
// register; `guichet --help` lists them all. Every subcommand takes the
// global --config flag (the daemon's configuration file), whether or not it
// needs it. Errors print as one line on standard error and exit with status 1;
// a usage error exits with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of guichet.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every subcommand receives besides its own arguments.
type env struct {
	configPath string
	stdin      io.Reader // PINs, never on the command line
	stdout     io.Writer
	stderr     io.Writer
}

var commands = map[string]*command{}

// stdin is where the subcommands read PINs; the tests replace it.
var stdin io.Reader = os.Stdin

// register adds a subcommand; it is called from init functions.
func register(name, summary string, run func(ctx context.Context, env *env, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("guichet: subcommand registered twice: " + name)
	}
	commands[name] = &command{name: name, summary: summary, run: run}
}

// errUsage marks an error caused by the command line; it exits with status 2.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: guichet [--config FILE] COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'guichet COMMAND --help' for the flags of one command.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("guichet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	fs.StringVar(&e.configPath, "config", defaultConfigPath(), "configuration `FILE` of the daemon")
	fs.Usage = func() {} // printed below, once, to the right stream
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	if fs.NArg() == 0 {
		usage(stderr)
		return 2
	}
	name := fs.Arg(0)
	if name == "help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "guichet: unknown command %q (see guichet --help)\n", name)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rest := fs.Args()[1:]
	// Accept --config after the subcommand name too, as scripts tend to write it there.
	rest = extractConfig(rest, &e.configPath)
	if err := cmd.run(ctx, e, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "guichet %s: %v\n", name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// extractConfig removes "--config FILE" or "--config=FILE" from args and
// stores FILE in dst.
func extractConfig(args []string, dst *string) []string {
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--config" || a == "-config") && i+1 < len(args):
			*dst = args[i+1]
			i++
		case len(a) > 9 && a[:9] == "--config=":
			*dst = a[9:]
		case len(a) > 8 && a[:8] == "-config=":
			*dst = a[8:]
		default:
			out = append(out, a)
		}
	}
	return out
}

// defaultConfigPath is $GUICHET_CONFIG, or the packaged location.
func defaultConfigPath() string {
	if p := os.Getenv("GUICHET_CONFIG"); p != "" {
		return p
	}
	return "/etc/guichet/guichetd.yaml"
}

// newFlags returns a FlagSet for a subcommand that prints errors to env.
func newFlags(e *env, name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet("guichet "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: guichet %s %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and turns a parse error into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
