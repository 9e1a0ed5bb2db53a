package selftest

import (
	"strconv"
	"testing"

	"github.com/guichet/guichet/internal/brokertest"
)

// TestBrokerAtTheWire connects to a real Mosquitto site broker with the
// device's certificate from the site's CA, and fails with one from a CA
// the broker does not trust, and with no broker listening.
func TestBrokerAtTheWire(t *testing.T) {
	ca := brokertest.NewCA(t)
	site := brokertest.StartMosquittoSite(t, ca)
	url := site.URL()
	good := ca.ClientTLS(t, "shop-1.till-1")
	wantStatus(t, run1(t, Broker([]string{url}, good, "", "", "shop-1.till-1.selftest")), Pass, "accepts the device's credentials")

	// A certificate from another CA, with the site's root trusted.
	bad := brokertest.NewCA(t).ClientTLS(t, "shop-1.till-1")
	bad.RootCAs = good.RootCAs
	wantStatus(t, run1(t, Broker([]string{url}, bad, "", "", "shop-1.till-1.selftest")), Fail, url)

	// The first broker down, the second up: the check passes on the second.
	down := "ssl://127.0.0.1:" + strconv.Itoa(brokertest.FreePort(t))
	wantStatus(t, run1(t, Broker([]string{down, url}, good, "", "", "shop-1.till-1.selftest")), Pass, url)
	wantStatus(t, run1(t, Broker([]string{down}, good, "", "", "shop-1.till-1.selftest")), Fail, "connection refused")
	wantStatus(t, run1(t, Broker(nil, good, "", "", "x")), Skip, "no broker")
}
