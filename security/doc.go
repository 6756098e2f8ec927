// Package security is the home of the gates every connection passes, each
// a small type with one decision method and no I/O, called by the engine at
// the cheapest point:
//
//   - Origins: the origin allowlist, before the upgrade;
//   - Authenticator: JWT verification, before the upgrade, with
//     BearerToken, ProtocolToken and QueryToken finding the token;
//   - ConnLimits: the connection caps and per-address handshake rate, at
//     accept;
//   - Shares: what one address may hold of a shared pool (the TLS
//     handshake slots), at accept;
//   - BucketLimit and Bucket: per-connection token buckets, per message;
//   - Schema and Validator: JSON validation, per message.
//
// It also holds the TLS policy of the wss:// listener (ServerTLS), its
// reloadable certificate (Certificate) and the development certificates
// made for it (DevCertificates).
package security
