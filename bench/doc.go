// Package bench is the library of wssbench, the load generator that
// measures wssd, or any WebSocket server, on connections, messages and
// latency. Its client connections live on gnet event loops, with wssd's
// codec and TLS record layer (engine/tlsrec), so one process holds tens of
// thousands of them. Run runs a scenario and returns a Report; reports of
// several processes merge exactly.
package bench
