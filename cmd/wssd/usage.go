package main

import (
	"flag"
	"fmt"

	"github.com/wssd/wssd/cmd/internal/flagdoc"
)

// flagGroups are the headings of "wssd --help" and the flags under each,
// in the order they are printed. Every flag is under exactly one heading
// (TestHelpGroups checks it).
var flagGroups = []struct {
	title string
	flags []string
}{
	{"Configuration", []string{"config"}},
	{"Listeners and TLS", []string{"listen", "listen-plain", "proxy-protocol", "trusted-proxies", "reuseport", "loops", "cert", "key", "data-dir",
		"tls-curves", "tls-workers", "tls-queue", "tls-slots-per-ip"}},
	{"Limits", []string{"max-message-size", "max-fragments", "reassembly-budget", "max-connections", "max-conns-per-ip",
		"handshake-rate-per-ip", "rate-messages", "rate-bytes", "rate-burst", "rate-policy", "max-outbound", "slow-consumer"}},
	{"Timeouts", []string{"handshake-timeout", "close-timeout", "drain-timeout", "ping-interval", "pong-timeout", "idle-timeout"}},
	{"Security gates", []string{"allowed-origins", "auth-secret-file", "auth-public-key", "auth-issuer", "auth-audience",
		"auth-leeway", "schema", "invalid-message", "max-json-depth", "max-json-size"}},
	{"Pub/sub", []string{"anonymous-publish", "max-subscriptions", "broker", "broker-prefix"}},
	{"Socket.IO", []string{"socketio-path", "socketio-app", "socketio-ping-interval", "socketio-ping-timeout",
		"socketio-max-payload", "socketio-connect-timeout"}},
	{"SockJS", []string{"sockjs-path", "sockjs-heartbeat", "sockjs-disconnect-delay", "sockjs-response-limit",
		"sockjs-cookie-needed", "sockjs-websocket", "sockjs-client-url"}},
	{"Compression (permessage-deflate)", []string{"deflate", "deflate-routes", "deflate-threshold", "deflate-level",
		"deflate-context-takeover", "deflate-window-bits"}},
	{"Admin and logs", []string{"admin", "admin-key-file", "pprof", "log-level", "log-format", "version"}},
}

// printUsage is wssd's --help: the flags of fs by topic.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: wssd [flags]
       wssd certs [--out DIR] [--hosts h1,h2,...]

wssd serves WebSocket connections: /ws is a pub/sub server (see the README),
/echo echoes every message, /socket.io/ serves Socket.IO clients. Flags may be
given as -flag or --flag.
`)
	for _, g := range flagGroups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, name := range g.flags {
			if f := fs.Lookup(name); f != nil {
				flagdoc.Print(w, f)
			}
		}
	}
}
