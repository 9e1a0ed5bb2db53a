package vcard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Control messages of the vpcd protocol (vsmartcard, "Creating a virtual
// smart card"): a one-byte payload from vpcd is one of these; any longer
// payload is a command APDU.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlATR      = 0x04
)

// DefaultVPCD is where Debian's vsmartcard-vpcd listens for the first slot.
const DefaultVPCD = "127.0.0.1:35963"

// Serve connects r to the vpcd driver at addr and answers it until ctx ends
// (which vpcd, and so pcscd, sees as the card being removed) or the
// connection fails. It retries the connection until vpcd listens. Every
// message is length-prefixed with two big-endian bytes.
func Serve(ctx context.Context, addr string, r Responder) error {
	var conn net.Conn
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn = c
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	slog.Debug("vcard: inserted", "vpcd", addr)
	err := serveConn(quickACK(conn), r)
	if ctx.Err() != nil {
		slog.Debug("vcard: removed", "vpcd", addr)
		return nil
	}
	return err
}

func serveConn(conn io.ReadWriter, r Responder) error {
	var hdr [2]byte
	buf := make([]byte, 0x10000)
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return fmt.Errorf("vcard: vpcd: %w", err)
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		msg := buf[:n]
		if _, err := io.ReadFull(conn, msg); err != nil {
			return fmt.Errorf("vcard: vpcd: %w", err)
		}
		var out []byte
		switch {
		case n == 0:
			continue
		case n == 1 && msg[0] == ctrlATR:
			out = r.ATR()
		case n == 1 && (msg[0] == ctrlPowerOff || msg[0] == ctrlPowerOn || msg[0] == ctrlReset):
			r.Reset()
			continue
		case n == 1:
			return fmt.Errorf("vcard: vpcd: unknown control %02X", msg[0])
		default:
			out = r.Respond(append([]byte(nil), msg...))
		}
		if len(out) > 0xFFFF {
			return errors.New("vcard: response too long for vpcd")
		}
		frame := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(out)), uint16(len(out)))
		if _, err := conn.Write(append(frame, out...)); err != nil {
			return fmt.Errorf("vcard: vpcd: %w", err)
		}
	}
}

// quickACKConn re-arms TCP_QUICKACK before each read. vpcd writes a
// message's length and its payload in two segments; with Nagle on its side
// and delayed ACKs on ours, the payload would wait some 40 ms for our ACK
// of the length, at every APDU.
type quickACKConn struct {
	net.Conn
	raw syscall.RawConn
}

func quickACK(c net.Conn) io.ReadWriter {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	tc.SetNoDelay(true)
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickACKConn{Conn: c, raw: raw}
}

func (q *quickACKConn) Read(p []byte) (int, error) {
	q.raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpQuickACK, 1)
	})
	return q.Conn.Read(p)
}

// Intercept wraps a Responder so that tests can watch, change or replace
// each answer: Func receives the running count of commands (from 1), the
// command and the card's response, and returns what to send.
type Intercept struct {
	Responder
	Func func(n int, cmd, resp []byte) []byte

	mu sync.Mutex
	n  int
}

// Respond calls the wrapped card, then Func.
func (i *Intercept) Respond(cmd []byte) []byte {
	resp := i.Responder.Respond(cmd)
	i.mu.Lock()
	i.n++
	n := i.n
	i.mu.Unlock()
	return i.Func(n, cmd, resp)
}
