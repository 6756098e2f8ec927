package pubsub

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub/natsbroker"
)

// TestPubSubNATS: three servers share topics through NATS. Subscribers
// spread over them get every message published on any of them exactly
// once, in order per publisher; a server subscribes to a subject only
// while it has subscribers to the topic.
func TestPubSubNATS(t *testing.T) {
	ns := enginetest.StartNATS(t, -1)
	base := ns.NumSubscriptions()
	const servers, subsEach, each = 3, 8, 120
	addrs := make([]string, servers)
	for i := range addrs {
		_, _, addrs[i] = startHub(t, engine.Config{}, Config{AnonymousPublish: true,
			Broker: natsbroker.New(natsbroker.Config{URL: ns.ClientURL(), Logger: enginetest.Logger()})})
	}
	var subs []*gws.Conn
	for _, addr := range addrs {
		for range subsEach {
			c := psDial(t, addr, nil)
			psSend(t, c, `{"op":"subscribe","topic":"room.1","id":1}`)
			psExpect(t, c, `{"op":"ack","id":1}`)
			subs = append(subs, c)
		}
	}
	if n := ns.NumSubscriptions(); n != base+servers {
		t.Fatalf("%d subscriptions on NATS, want %d: one per server", n-base, servers)
	}

	var wg sync.WaitGroup
	for p, addr := range addrs {
		pc := psDial(t, addr, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				if err := pc.WriteMessage(gws.TextMessage, fmt.Appendf(nil, `{"op":"publish","topic":"room.1","data":{"p":%d,"n":%d}}`, p, n)); err != nil {
					t.Errorf("publisher %d: %v", p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	readInOrder(t, subs, "room.1", servers, each)
	enginetest.WaitFor(t, "the servers to unsubscribe from NATS", func() bool { return ns.NumSubscriptions() == base })
}

// TestNATSReconnect: when the NATS server goes away and comes back, the
// broker reconnects, counts it, restores its subscriptions, and messages
// flow again.
func TestNATSReconnect(t *testing.T) {
	ns := enginetest.StartNATS(t, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	set := metrics.NewSet()
	broker := natsbroker.New(natsbroker.Config{URL: ns.ClientURL(), Logger: enginetest.Logger(), Metrics: set})
	_, _, addr := startHub(t, engine.Config{}, Config{AnonymousPublish: true, Broker: broker})
	sub := psDial(t, addr, nil)
	psSend(t, sub, `{"op":"subscribe","topic":"t","id":1}`)
	psExpect(t, sub, `{"op":"ack","id":1}`)
	pub := psDial(t, addr, nil)
	psSend(t, pub, `{"op":"publish","topic":"t","data":"before","id":1}`)
	psExpect(t, pub, `{"op":"ack","id":1}`)
	psExpect(t, sub, `{"op":"message","topic":"t","data":"before"}`)

	ns.Shutdown()
	ns.WaitForShutdown()
	again := enginetest.StartNATS(t, port)
	enginetest.WaitFor(t, "the broker to reconnect", func() bool {
		return set.GetOrCreateCounter("wssd_broker_reconnects_total").Get() == 1 && again.NumSubscriptions() > 0
	})
	if d := set.GetOrCreateCounter("wssd_broker_disconnects_total").Get(); d < 1 {
		t.Errorf("%d disconnects counted", d)
	}
	for i := range 3 {
		psSend(t, pub, `{"op":"publish","topic":"t","data":"after `+strconv.Itoa(i)+`"}`)
	}
	for i := range 3 {
		psExpect(t, sub, `{"op":"message","topic":"t","data":"after `+strconv.Itoa(i)+`"}`)
	}
}

// TestNATSStartsLater: wssd starts before NATS does. It serves at once,
// takes subscriptions and publications meanwhile, and delivers them when
// NATS comes up.
func TestNATSStartsLater(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	set := metrics.NewSet()
	broker := natsbroker.New(natsbroker.Config{URL: "nats://127.0.0.1:" + strconv.Itoa(port), Logger: enginetest.Logger(), Metrics: set})
	_, _, addr := startHub(t, engine.Config{}, Config{AnonymousPublish: true, Broker: broker})
	sub := psDial(t, addr, nil)
	psSend(t, sub, `{"op":"subscribe","topic":"t","id":1}`)
	psExpect(t, sub, `{"op":"ack","id":1}`)
	pub := psDial(t, addr, nil)
	psSend(t, pub, `{"op":"publish","topic":"t","data":"early","id":2}`)
	psExpect(t, pub, `{"op":"ack","id":2}`)
	if set.GetOrCreateGauge("wssd_broker_connected", nil).Get() != 0 {
		t.Fatal("connected to a NATS server that does not run")
	}
	enginetest.StartNATS(t, port)
	psExpect(t, sub, `{"op":"message","topic":"t","data":"early"}`)
}
