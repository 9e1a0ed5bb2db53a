// Package mqttconn holds what the device's link and the platform share in
// how they open MQTT connections with paho.
package mqttconn

import (
	"bufio"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// BufferReads makes o read plain TCP connections through a buffer.
//
// paho reads each packet's fixed header one byte at a time (MQTT 3.1.1
// section 2.2.3, the variable-length "remaining length"), which on a bare
// TCP socket is several read system calls per message: a fifth of the
// platform's CPU, and three calls for every PUBACK of a device's drain.
// TLS connections buffer by themselves and keep paho's own dialler, as do
// websockets and anything else: the buffer is used only when every broker
// is tcp:// or mqtt://.
func BufferReads(o *mqtt.ClientOptions, brokers ...string) {
	for _, b := range brokers {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") {
			return
		}
	}
	o.SetCustomOpenConnectionFn(func(u *url.URL, opts mqtt.ClientOptions) (net.Conn, error) {
		d := opts.Dialer
		if d == nil {
			timeout := opts.ConnectTimeout
			if timeout <= 0 {
				timeout = 30 * time.Second
			}
			d = &net.Dialer{Timeout: timeout}
		}
		c, err := d.Dial("tcp", u.Host)
		if err != nil {
			return nil, err
		}
		return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10)}, nil
	})
}

// bufConn is a net.Conn whose reads go through r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
