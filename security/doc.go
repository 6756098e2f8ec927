// Package security is the home of the gates every connection passes: origin
// allowlist, token auth, per-IP limits, per-connection token buckets and
// message validation, each a small type with one decision method and no
// I/O, called by the engine at the cheapest point. It also holds the TLS
// policy of the wss:// listener (ServerTLS), its reloadable certificate
// (Certificate) and the development certificates made for it
// (DevCertificates); no gate is in it yet.
package security
