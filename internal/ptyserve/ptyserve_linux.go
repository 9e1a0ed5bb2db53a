// Package ptyserve serves an emulator on a pseudo-terminal in raw mode, so
// that a driver under test opens it as it would the device's serial port:
// the emulators of the SAM module (firmware-bridge/sam/samemu) and of the
// receipt printer (internal/escposemu) share it.
package ptyserve

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal whose master side an emulator serves. Its Path
// names the other side, which a driver opens as if it were the device's
// serial port.
type PTY struct {
	// Path is the terminal to open, such as /dev/pts/3.
	Path string

	master, slave *os.File
	cancel        context.CancelFunc
	done          chan struct{}
	err           error
	closeOnce     sync.Once
}

// Start opens a pseudo-terminal in raw mode and runs serve on its master
// side in a goroutine until ctx ends or Close is called. The terminal's
// side is kept open too, so a driver may open and close it as often as it
// likes.
func Start(ctx context.Context, serve func(context.Context, io.ReadWriter) error) (*PTY, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("ptyserve: opening a pseudo-terminal: %w", err)
	}
	if master, err = pollable(master); err != nil {
		slave.Close()
		return nil, fmt.Errorf("ptyserve: pseudo-terminal: %w", err)
	}
	if err := makeRaw(slave); err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("ptyserve: raw mode on %s: %w", slave.Name(), err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &PTY{Path: slave.Name(), master: master, slave: slave, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = serve(ctx, master)
	}()
	return p, nil
}

// Close stops serving, closes both sides and returns the error that ended
// the service, if any.
func (p *PTY) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		<-p.done
		p.slave.Close()
		p.master.Close()
	})
	return p.err
}

// Announce tells a script which terminal to open, as the emulators'
// commands do: it makes the symbolic link at link, if not empty (replacing
// one left by an earlier run), and prints Path on w. The function it returns
// removes the link.
func (p *PTY) Announce(link string, w io.Writer) (unlink func(), err error) {
	unlink = func() {}
	if link != "" {
		os.Remove(link)
		if err := os.Symlink(p.Path, link); err != nil {
			return unlink, fmt.Errorf("ptyserve: linking %s: %w", link, err)
		}
		unlink = func() { os.Remove(link) }
	}
	fmt.Fprintln(w, p.Path)
	return unlink, nil
}

// Wait serves until ctx ends or the service stops, then closes.
func (p *PTY) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-p.done:
	}
	return p.Close()
}

// Done is closed when serve has returned.
func (p *PTY) Done() <-chan struct{} { return p.done }

// pollable returns f as a File in non-blocking mode, which Go's poller
// serves: only then does Close end a Read in progress. pty.Open leaves the
// master in blocking mode.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// makeRaw sets the terminal as cfmakeraw(3) does, at 115200 baud, so that
// tools other than a serial library see the bytes unchanged.
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	t.Cflag = t.Cflag&^unix.CBAUD | unix.B115200
	t.Ispeed, t.Ospeed = unix.B115200, unix.B115200
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return err
	}
	return nil
}
