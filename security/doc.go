// Package security is the home of the gates every connection passes: origin
// allowlist, token auth, per-IP limits, per-connection token buckets and
// message validation, each a small type with one decision method and no
// I/O, called by the engine at the cheapest point. No gate is in it yet.
package security
