package e2e

import (
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/fault"
)

// The fault scenarios break the programs, the broker and the network for
// real while payments are being taken and synced, then check, by payment
// id in the platform's own store, that every payment the appliance
// reported stored was applied, and none twice. Each prints one line:
//
//	fault SCENARIO runs=N reported_stored=S applied=A duplicates=D lost=L
//
// (`make fault-test` runs them verbosely and collects the lines.)

// payers is how many payments are taken at once.
const payers = 4

// finishFault stops the payments, lets the queue drain, counts and prints
// the summary line, and fails on anything lost or applied twice.
func finishFault(t *testing.T, r *Rig, p *Payers, scenario string, runs int) fault.Summary {
	t.Helper()
	p.Stop()
	if !r.DaemonRunning() {
		r.StartDaemon()
	}
	r.WaitDrained(90 * time.Second)
	s := fault.Tally(scenario, runs, p.Stored(), r.AppliedPayments())
	s.Print(os.Stdout) // on a line of its own under go test -v
	st := r.Stats()
	t.Logf("%s: payers %s; platform applied %d, re-deliveries refused as duplicates %d, rejected %d",
		scenario, p, st.Applied, st.Duplicates, st.Rejected)
	if s.ReportedStored == 0 {
		r.fatalfLogs("%s: no payment was reported stored: the scenario tested nothing", scenario)
	}
	if !s.OK() {
		r.fatalfLogs("%s: lost %v, applied twice %v", s, s.LostKeys, s.DuplicateKeys)
	}
	if st.Rejected != 0 {
		r.fatalfLogs("%s: the platform rejected %d records", scenario, st.Rejected)
	}
	if n := r.AppliedRecords(); uint64(n) != st.Applied {
		r.fatalfLogs("%s: %d records in the platform's store, its counter says %d", scenario, n, st.Applied)
	}
	return s
}

// sleepRand sleeps between lo and hi.
func sleepRand(rng *rand.Rand, lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
}

// TestFaultPowerLoss kills guichetd with SIGKILL at random moments while
// payments are taken and synced, 20 times in a row, restarting it each
// time: what was reported stored survived and reached the platform once.
func TestFaultPowerLoss(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.WaitConnected(10 * time.Second)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := r.StartPayers(payers, seed)
	const runs = 20
	for i := 0; i < runs; i++ {
		sleepRand(rng, 100*time.Millisecond, 700*time.Millisecond)
		r.KillDaemon()
		sleepRand(rng, 0, 100*time.Millisecond)
		r.StartDaemon()
		if i == runs/2 {
			// Payments must go through between kills, or the scenario
			// only tests restarts.
			if p.Count() == 0 {
				r.fatalfLogs("no payment reported stored in %d kill cycles", i+1)
			}
		}
	}
	finishFault(t, r, p, "power_loss", runs)
}

// TestFaultBrokerLoss kills Mosquitto with SIGKILL mid-sync and restarts
// it, three times; the queue drains after.
func TestFaultBrokerLoss(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.WaitConnected(10 * time.Second)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := r.StartPayers(payers, seed)
	const runs = 3
	for i := 0; i < runs; i++ {
		sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
		r.Broker.Kill()
		sleepRand(rng, 500*time.Millisecond, 1500*time.Millisecond)
		r.Broker.Restart()
		r.WaitConnected(20 * time.Second)
	}
	sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
	finishFault(t, r, p, "broker_loss", runs)
}

// TestFaultPlatformDown stops the platform with the broker up, three
// times: the cashier gets a decision after wait_online (approved offline
// or declined over the limit), and every payment decided and sent is
// applied once the platform is back.
func TestFaultPlatformDown(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.WaitConnected(10 * time.Second)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := r.StartPayers(payers, seed)
	const runs = 3
	for i := 0; i < runs; i++ {
		sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
		r.StopPlatform()
		sleepRand(rng, 4*time.Second, 7*time.Second) // longer than wait_online
		r.StartPlatform()
	}
	sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
	s := finishFault(t, r, p, "platform_down", runs)
	if p.status["approved_offline"]+p.status["declined_offline"] == 0 {
		t.Fatalf("%s: no offline decision while the platform was down: %v", s, p.status)
	}
	if p.status["queued"] != 0 {
		t.Fatalf("%s: the cashier was told queued %d times", s, p.status["queued"])
	}
}

// TestFaultPlatformSlow freezes the platform (SIGSTOP: connections open,
// nothing answered) longer than wait_online, three times, then resumes it:
// the late answers decide the payments approved offline meanwhile.
func TestFaultPlatformSlow(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.WaitConnected(10 * time.Second)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := r.StartPayers(payers, seed)
	const runs = 3
	for i := 0; i < runs; i++ {
		sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
		r.FreezePlatform()
		sleepRand(rng, 4*time.Second, 7*time.Second)
		r.ThawPlatform()
	}
	sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
	s := finishFault(t, r, p, "platform_slow", runs)
	if p.status["approved_offline"]+p.status["declined_offline"] == 0 {
		t.Fatalf("%s: no offline decision while the platform was slow: %v", s, p.status)
	}
	if p.status["queued"] != 0 {
		t.Fatalf("%s: the cashier was told queued %d times", s, p.status["queued"])
	}
}

// brokerAddr is the host:port of the rig's Mosquitto.
func brokerAddr(t *testing.T, r *Rig) string {
	u, err := url.Parse(r.Broker.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// proxied returns a rig whose daemon reaches the broker through a
// fault-injecting proxy; the platform connects directly.
func proxied(t *testing.T) (*Rig, *fault.Proxy) {
	r := NewRig(t)
	px, err := fault.NewProxy(brokerAddr(t, r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	r.SetBrokers([]string{px.URL()}, nil)
	r.StartPlatform()
	r.StartDaemon()
	r.WaitConnected(10 * time.Second)
	return r, px
}

// TestFaultNetworkCut closes both sides of the device's connection to the
// broker mid-sync, several times.
func TestFaultNetworkCut(t *testing.T) {
	r, px := proxied(t)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := r.StartPayers(payers, seed)
	const runs = 6
	for cuts, tries := 0, 0; cuts < runs; tries++ {
		if tries > 10*runs {
			r.fatalfLogs("the device was connected for only %d of %d cuts", cuts, tries)
		}
		sleepRand(rng, 200*time.Millisecond, 700*time.Millisecond)
		cuts += min(px.Cut(), 1)
	}
	r.WaitConnected(20 * time.Second)
	sleepRand(rng, 200*time.Millisecond, 500*time.Millisecond)
	finishFault(t, r, p, "network_cut", runs)
	if s := px.Stats(); s.Accepted < runs+1 {
		t.Fatalf("proxy stats %+v: the device did not reconnect after each cut", s)
	}
}

// TestFaultHalfOpen freezes the device's connection to the broker without
// closing it: no reset, no FIN, nothing forwarded either way. Only the MQTT
// keep-alive (10 s, the daemon's default; paho's ping timeout is half of
// it) can tell; the device must drop the connection, reconnect and drain.
func TestFaultHalfOpen(t *testing.T) {
	r, px := proxied(t)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	p := r.StartPayers(payers, seed)
	const runs = 1
	for i := 0; i < runs; i++ {
		sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
		accepted := px.Stats().Accepted
		if n := px.Stall(); n != 1 {
			r.fatalfLogs("froze %d connections, want the device's one", n)
		}
		frozen := time.Now()
		r.Eventually(45*time.Second, "device reconnected after a half-open connection", func() bool {
			_, l, err := r.APIStatus()
			return err == nil && l.Connected && px.Stats().Accepted > accepted && px.Live() > 0
		})
		t.Logf("half-open connection noticed and replaced after %v", time.Since(frozen).Round(100*time.Millisecond))
	}
	sleepRand(rng, 300*time.Millisecond, 800*time.Millisecond)
	finishFault(t, r, p, "half_open", runs)
}

// TestFaultNATSFailover runs the device against a 3-node NATS cluster
// (MQTT listeners, JetStream) with all three URLs, and kills the node it
// is connected to mid-sync: the device fails over and loses nothing. The
// platform (one instance: shared subscriptions are not used on NATS)
// starts on another node; the killed node is brought back and the second
// kill hits the node the device failed over to, which is also the
// platform's, so both fail over.
func TestFaultNATSFailover(t *testing.T) {
	r := NewRig(t)
	c := fault.StartNATSCluster(t, 3)
	urls := c.MQTTURLs()
	r.SetBrokers(urls, []string{urls[1], urls[2], urls[0]})
	r.StartPlatform()
	r.StartDaemon()
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	broker := r.WaitConnected(30 * time.Second)
	p := r.StartPayers(payers, seed)
	const runs = 2
	for i := 0; i < runs; i++ {
		sleepRand(rng, 500*time.Millisecond, 1500*time.Millisecond)
		node := c.NodeByMQTTURL(broker)
		if node == nil {
			r.fatalfLogs("device connected to %q, not a node of the cluster", broker)
		}
		c.Kill(node)
		killed := time.Now()
		r.Eventually(60*time.Second, "device failed over to another NATS node", func() bool {
			_, l, err := r.APIStatus()
			if err == nil && l.Connected && l.Broker != broker {
				broker = l.Broker
				return true
			}
			return false
		})
		t.Logf("failed over from %s to %s in %v", node.Name, broker, time.Since(killed).Round(100*time.Millisecond))
		c.Restart(node)
		c.WaitReady(3 * time.Minute)
	}
	sleepRand(rng, 500*time.Millisecond, 1000*time.Millisecond)
	finishFault(t, r, p, "nats_failover", runs)
}
