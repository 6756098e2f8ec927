// Package bench is the home of the wssbench load generator's library, which
// measures wssd, or any WebSocket server, on connections, messages, latency
// and handshakes. Nothing is in it yet.
package bench
