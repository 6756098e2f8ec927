// Package natsbroker carries a hub's publications between processes and
// hosts over NATS (github.com/nats-io/nats.go): a pubsub.Broker. Only a
// program that uses a broker imports it, and so nats.go.
package natsbroker

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go"
)

// Config configures a Broker.
type Config struct {
	// URL is the NATS server, or a comma-separated list of a cluster's.
	URL string
	// Prefix goes before each topic to make its subject; "" means
	// DefaultPrefix. Processes that share topics share the prefix.
	Prefix string
	// Name is how this connection shows in the NATS server's monitoring;
	// "" means "wssd".
	Name string
	// Logger receives the connection's events; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, gets the broker's series (see the README).
	Metrics *metrics.Set
}

// DefaultPrefix is the subject prefix of topics on NATS.
const DefaultPrefix = "wssd."

// Broker is a pubsub.Broker on NATS: a topic is
// the subject Prefix+topic; this process subscribes to it while it has
// subscribers to the topic. NATS delivers a message once to each
// subscription and in the order one connection published it, so each
// process gets each publication once, in order per publisher. The
// connection reconnects for ever when it drops (subscriptions are
// restored, publications buffered meanwhile up to nats.go's reconnect
// buffer), and counts it.
type Broker struct {
	cfg Config
	log *slog.Logger
	nc  *nats.Conn

	mu      sync.Mutex
	subs    map[string]*nats.Subscription
	deliver func(topic string, data []byte)

	reconnects, disconnects, dropped *metrics.Counter
	announced                        atomic.Bool
}

// New returns a broker for cfg; Start (called by the hub when its server
// starts) connects it.
func New(cfg Config) *Broker {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Name == "" {
		cfg.Name = "wssd"
	}
	b := &Broker{cfg: cfg, log: cfg.Logger, subs: map[string]*nats.Subscription{}}
	if b.log == nil {
		b.log = slog.Default()
	}
	set := cfg.Metrics
	if set == nil {
		set = metrics.NewSet() // counted, not exported
	}
	b.reconnects = set.NewCounter("wssd_broker_reconnects_total")
	b.disconnects = set.NewCounter("wssd_broker_disconnects_total")
	b.dropped = set.NewCounter("wssd_broker_dropped_total")
	set.NewGauge("wssd_broker_connected", func() float64 {
		if b.nc != nil && b.nc.IsConnected() {
			return 1
		}
		return 0
	})
	return b
}

// Start connects to NATS. When no server answers yet it does not fail:
// it goes on trying in the background, as after a disconnect, so that
// wssd and NATS may start in any order; subscriptions and publications
// wait for the connection meanwhile. It fails on a URL it cannot use.
func (b *Broker) Start(deliver func(topic string, data []byte)) error {
	b.deliver = deliver
	nc, err := nats.Connect(b.cfg.URL,
		nats.Name(b.cfg.Name),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(b.connected),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.disconnects.Inc()
			b.log.Warn("broker disconnected", "broker", "nats", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.reconnects.Inc()
			b.log.Info("broker reconnected", "broker", "nats", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				// This process fell behind its subscription: NATS
				// dropped messages for it.
				n, _ := sub.Dropped()
				b.log.Warn("broker messages dropped: this process is behind", "subject", sub.Subject, "dropped_so_far", n)
				b.dropped.Inc()
				return
			}
			b.log.Warn("broker error", "broker", "nats", "err", err)
		}),
	)
	if err != nil {
		return err
	}
	b.nc = nc
	if nc.IsConnected() {
		b.connected(nc)
	} else {
		b.log.Warn("broker not reachable yet; retrying", "broker", "nats", "url", b.cfg.URL)
	}
	return nil
}

// connected logs the first connection, once: nats.go reports it from its
// own goroutine too.
func (b *Broker) connected(nc *nats.Conn) {
	if b.announced.CompareAndSwap(false, true) {
		b.log.Info("broker connected", "broker", "nats", "server", nc.ConnectedUrlRedacted(), "prefix", b.cfg.Prefix)
	}
}

// Publish sends data on topic's subject. nats.go buffers it, and while
// reconnecting keeps it in its reconnect buffer; it fails only when that
// is full or the connection is closed.
func (b *Broker) Publish(topic string, data []byte) error {
	return b.nc.Publish(b.cfg.Prefix+topic, data)
}

// Subscribe subscribes to topic's subject and, when connected, waits (2 s
// at most) for the server to have the subscription, so that what is
// published after it returns is delivered. While disconnected the
// subscription is made when the connection comes back.
func (b *Broker) Subscribe(topic string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[topic] != nil {
		return nil
	}
	sub, err := b.nc.Subscribe(b.cfg.Prefix+topic, func(m *nats.Msg) { b.deliver(topic, m.Data) })
	if err != nil {
		return err
	}
	// Past the default pending limits a subscription drops messages; a
	// broadcast topic can see bursts larger than that.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	b.subs[topic] = sub
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(2 * time.Second)
	}
	return nil
}

// Unsubscribe ends the subscription to topic's subject.
func (b *Broker) Unsubscribe(topic string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.subs[topic]
	if sub == nil {
		return nil
	}
	delete(b.subs, topic)
	return sub.Unsubscribe()
}

// Close sends what is buffered and disconnects.
func (b *Broker) Close() error {
	if b.nc == nil {
		return nil
	}
	_ = b.nc.FlushTimeout(2 * time.Second)
	b.nc.Close()
	return nil
}
