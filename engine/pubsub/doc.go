// Package pubsub is wssd's publish/subscribe: a Hub of topics, and the
// JSON protocol clients speak to it on a route (wssd serves it on /ws).
// It is built on the engine's public API, as any protocol beside the core
// is: the Hub is the route's Handler, an engine.Protocol (its broker
// starts and stops with the server), an engine.Ticker (its per-loop
// counts reach the metrics each tick) and an engine.JSONHandler (the
// engine validates every request against Schema before OnMessage sees it).
//
// # The protocol
//
// Clients send JSON requests:
//
//	{"op":"subscribe","topic":"t","id":1}
//	{"op":"unsubscribe","topic":"t","id":2}
//	{"op":"publish","topic":"t","data":<any JSON>,"id":3}
//
// and get, for a request with an id, {"op":"ack","id":…} once it is done,
// or {"op":"error","id":…,"code":…,"message":…} (a request without an id
// gets only errors), and {"op":"message","topic":"t","data":…} for each
// publication to a topic they subscribe to. A request that is not of this
// form fails validation like any message on a JSON route. Without
// engine.Config.Auth anyone may subscribe, and publish with
// Config.AnonymousPublish; with it, the token's "topics" claim decides,
// and a refusal is counted as topic_forbidden.
//
// # The hub
//
// A subscriber is a Member: a /ws connection's, kept in its slot, or one
// another protocol makes for its own sessions (NewMember, with a Sink
// that writes a publication in that protocol's form: Socket.IO's rooms are
// the hub's topics). A loop keeps its own members, topic by topic, touched
// only on the loop. The hub keeps, for each
// topic, the loops that have subscribers to it; that table changes only
// when a loop gains its first subscriber to a topic or loses its last,
// under a mutex no message takes but to read it.
//
// A publication is encoded once for /ws (engine.Prepare) and posted, as
// one Publication, to each loop with subscribers; each loop writes the
// frame to its own connections, and hands the Publication to its Sinks,
// which encode it once per loop in their own form.
// Tasks to one loop run in the order they were posted, so a loop's
// subscribers get one publisher's messages to a topic in the order they
// were published. A subscriber that does not read is the engine's slow
// consumer, and the others do not wait for it.
//
// With a Broker (natsbroker), publications go through it, this process's
// own included, and come back by deliver: a process receives a topic's
// publications only while it has subscribers to the topic (the broker is
// told when the first one comes and the last one goes), and each exactly
// once. Topics then span processes and hosts.
package pubsub
