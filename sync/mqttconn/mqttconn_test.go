package mqttconn

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
)

func TestBufferedConnectionCarriesMessages(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	got := make(chan string, 100)
	mk := func(id string) mqtt.Client {
		o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(id)
		BufferReads(o, b.URL())
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	sub, pub := mk("sub"), mk("pub")
	sub.Subscribe("t", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }).Wait()
	for i := 0; i < 50; i++ {
		pub.Publish("t", 1, false, "m").Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatalf("received %d of 50", i)
		}
	}
	// A TLS URL keeps paho's own dialler: nothing is set.
	o := mqtt.NewClientOptions()
	BufferReads(o, "tcp://a:1", "ssl://b:2")
	if o.CustomOpenConnectionFn != nil {
		t.Fatal("buffer set although one broker is TLS")
	}
}
