//go:build linux

// Command guichet-escposemu emulates an ESC/POS receipt printer on a
// pseudo-terminal, or on a TCP port as a network printer, for
// demonstrations and manual tests. It prints the terminal's path (or the
// address) on its first line of output, then each slip's lines as it is
// cut and each drawer kick ("drawer: pin 2, 50ms on, 500ms off"), and
// serves until interrupted:
//
//	$ guichet-escposemu -link /tmp/printer0 -out /tmp/slips
//	/dev/pts/5
//
// and the daemon's configuration points the printer at it:
//
//	printer: {driver: escpos, options: {port: /tmp/printer0}}
//
// With -out, each slip is also rendered to DIR/slip-N.png. -tcp
// 127.0.0.1:9100 listens instead of opening a terminal. -paper-out makes
// the printer report it has no paper. A stream the emulator cannot parse
// stops it with the reason.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/guichet/guichet/internal/escposemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "guichet-escposemu:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guichet-escposemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	link := fs.String("link", "", "also make a symbolic link to the terminal at `path`")
	addr := fs.String("tcp", "", "listen on this `host:port` instead of a terminal")
	out := fs.String("out", "", "render each slip to `dir`/slip-N.png")
	paper := fs.Int("paper", 80, "paper width in `mm`: 80 or 58")
	paperOut := fs.Bool("paper-out", false, "report the paper is out")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	dots := map[int]int{80: escposemu.Dots80, 58: escposemu.Dots58}[*paper]
	if dots == 0 {
		return fmt.Errorf("-paper %d: want 80 or 58", *paper)
	}
	if *link != "" && *addr != "" {
		return errors.New("-link names a terminal, -tcp listens instead of one: not both")
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
	}
	e := escposemu.New()
	e.SetPaperOut(*paperOut)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	if *addr != "" {
		l, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, l.Addr())
		go func() { served <- e.ServeTCP(ctx, l); cancel() }()
	} else {
		p, err := e.ServePTY(ctx)
		if err != nil {
			return err
		}
		defer p.Close()
		unlink, err := p.Announce(*link, stdout)
		defer unlink()
		if err != nil {
			return err
		}
		go func() {
			served <- p.Wait(ctx)
			cancel()
		}()
	}
	// report ends at a stream error, or when ctx ends: at the signal, or
	// when serving stopped.
	err := report(ctx, e, dots, *out, stdout)
	cancel()
	if serr := <-served; err == nil {
		err = serr
	}
	return err
}

// report writes each slip's lines to w, and its image to dir, as it is
// cut, and each drawer kick, until ctx ends or the stream fails.
func report(ctx context.Context, e *escposemu.Emulator, dots int, dir string, w io.Writer) error {
	for n, k := 0, 0; ; {
		s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) > n || len(s.Kicks) > k })
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ; k < len(s.Kicks); k++ {
			kick := s.Kicks[k]
			fmt.Fprintf(w, "drawer: pin %d, %v on, %v off\n", kick.Pin, kick.On, kick.Off)
		}
		for ; n < len(s.Slips); n++ {
			slip := s.Slips[n]
			// The image first: whoever reads the lines may look for it.
			if dir != "" {
				if err := writePNG(filepath.Join(dir, fmt.Sprintf("slip-%d.png", n+1)), slip, dots); err != nil {
					return err
				}
			}
			fmt.Fprintf(w, "slip %d:\n", n+1)
			for _, l := range slip.Lines() {
				fmt.Fprintln(w, "  "+l)
			}
		}
	}
}

func writePNG(path string, slip escposemu.Slip, dots int) error {
	img, err := escposemu.Render(slip, dots)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
