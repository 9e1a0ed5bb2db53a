package provision

import (
	"context"
	"testing"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/provision/provisiontest"
)

// BenchmarkEnrol reports the time of one enrolment, from the connection
// to the provisioning broker (TLS) to the files written, against the test
// platform over loopback with a file key: the device's share of the
// technician's wait, without the platform's own checks and store.
func BenchmarkEnrol(b *testing.B) {
	ca := provisiontest.NewCA(b, "platform CA")
	br := provisiontest.StartBroker(b, ca)
	p := provisiontest.StartPlatform(b, br, ca)
	key := newKey(b)
	rk := recordKey(b)
	enrol := func() {
		code, err := claim.NewCode()
		if err != nil {
			b.Fatal(err)
		}
		p.Set(func(p *provisiontest.Platform) { p.Code = code })
		if _, err := Enrol(context.Background(), Options{Broker: br.ProvisionURL(), CA: ca.Pool(), Code: code.String(), Device: "till-7",
			Key: key, RecordKey: rk, StateDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		benchfig.Report(b, "enrol_device_ms", benchfig.MedianMs(21, enrol), "ms")
	}
}
