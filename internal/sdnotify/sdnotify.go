// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): a daemon started with Type=notify tells the service
// manager when it is ready (READY=1), that it is alive (WATCHDOG=1, at
// least every WatchdogSec) and that it is stopping (STOPPING=1), each as
// one datagram on the Unix socket named by $NOTIFY_SOCKET. A name starting
// with '@' is in the abstract namespace. Without $NOTIFY_SOCKET (not run by
// systemd, or by a unit of another type) every call does nothing.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// The states a daemon reports.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notifier sends notifications to one socket; the zero value, and a nil
// one, send nothing.
type Notifier struct {
	socket string
}

// FromEnv returns the notifier of $NOTIFY_SOCKET (nil when unset) and
// unsets the variable, so that no child process the daemon starts talks
// to the service manager in its name.
func FromEnv() *Notifier {
	s := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	if s == "" {
		return nil
	}
	return &Notifier{socket: s}
}

// New returns a notifier that writes to socket (a path, or '@' and an
// abstract name).
func New(socket string) *Notifier { return &Notifier{socket: socket} }

// Notify sends one datagram holding state (lines of VAR=VALUE, such as
// Ready). It reports whether a socket was configured and the error of
// sending, naming the socket.
func (n *Notifier) Notify(state string) (bool, error) {
	if n == nil || n.socket == "" {
		return false, nil
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return true, fmt.Errorf("sdnotify: %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return true, fmt.Errorf("sdnotify: %s: %w", n.socket, err)
	}
	return true, nil
}

// WatchdogInterval is how often the daemon should send Watchdog: half of
// $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, or 0 when the unit
// has no watchdog (unset, unparsable, or $WATCHDOG_PID naming another
// process).
func WatchdogInterval() time.Duration {
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0
	}
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}

// RunWatchdog sends Watchdog every interval until ctx ends; alive, when
// not nil, is asked first, and a ping is skipped while it reports false,
// so that a daemon that is stuck is restarted. It returns at once when
// interval is not positive or n is nil.
func (n *Notifier) RunWatchdog(ctx context.Context, interval time.Duration, alive func() bool) {
	if n == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive != nil && !alive() {
				continue
			}
			n.Notify(Watchdog)
		}
	}
}
