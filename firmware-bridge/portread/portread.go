// Package portread reads a peripheral's port in a goroutine of its own, so
// that the peripheral's client can wait for bytes with a deadline or a
// context and give up on a silent peripheral: a read on a serial line has
// neither. The SAM module's client and the firmware bridge's share it.
package portread

import (
	"errors"
	"io"
	"sync"
)

// errStopped is what the reader records when it stops because of Close.
var errStopped = errors.New("portread: stopped")

// Reader hands what it reads from a port over Chunks until Close or the
// port fails, then closes Done.
type Reader struct {
	port   io.Reader
	chunks chan []byte
	quit   chan struct{}
	done   chan struct{}
	err    error // set before done is closed
	once   sync.Once
}

// Start returns a Reader of port, whose goroutine reads until Close.
func Start(port io.Reader) *Reader {
	r := &Reader{port: port, chunks: make(chan []byte, 16), quit: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *Reader) loop() {
	defer close(r.done)
	for {
		buf := make([]byte, 512)
		n, err := r.port.Read(buf)
		if n > 0 {
			select {
			case r.chunks <- buf[:n]:
			case <-r.quit:
				r.err = errStopped
				return
			}
		}
		if err != nil {
			select {
			case <-r.quit:
				// Close closed the port under the read.
				r.err = errStopped
			default:
				r.err = err
			}
			return
		}
		select {
		case <-r.quit:
			// A port with a read timeout comes back here regularly.
			r.err = errStopped
			return
		default:
		}
	}
}

// Chunks are the bytes read, in order, as they came.
func (r *Reader) Chunks() <-chan []byte { return r.chunks }

// Done is closed once the reader has stopped; Err then says why.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Err is the port's error that stopped the reader, or nil if Close did.
// It is meaningful once Done is closed.
func (r *Reader) Err() error {
	if errors.Is(r.err, errStopped) {
		return nil
	}
	return r.err
}

// Close stops the reader. It closes the port if it is an io.Closer, which
// ends the read in progress, and waits for the goroutine; for a port that is
// not an io.Closer, the goroutine ends after the port's next read.
func (r *Reader) Close() error {
	var err error
	r.once.Do(func() {
		close(r.quit)
		if cl, ok := r.port.(io.Closer); ok {
			err = cl.Close()
			<-r.done
		}
	})
	return err
}
