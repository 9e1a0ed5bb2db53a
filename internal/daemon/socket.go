package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// listenSocket listens on the Unix socket of the guichet command: mode
// 0660, group the service group when one is named, so that only the
// daemon's user and that group can connect. A socket left by a daemon that
// died is replaced; any other file at the path is an error.
func listenSocket(path, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("ui.socket_group: %w", err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("ui.socket_group: gid %q: %w", g.Gid, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("ui.socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("ui.socket: %s exists and is not a socket", path)
		}
		// A daemon that answers there is running: do not steal its socket.
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("ui.socket: %s: another daemon answers there", path)
		}
		os.Remove(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ui.socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("ui.socket: %w", err)
	}
	// The socket is made with the umask's mode: set it before anyone but
	// the daemon's user may have connected (the directory is 0750).
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("ui.socket: %w", err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("ui.socket_group: %w", err)
		}
	}
	return l, nil
}

// listenHosts are the names of ui.listen the UI answers to in the Host
// header, besides localhost and IP literals.
func listenHosts(listen string) []string {
	h, _, err := net.SplitHostPort(listen)
	if err != nil || h == "" || net.ParseIP(h) != nil {
		return nil
	}
	return []string{h}
}
