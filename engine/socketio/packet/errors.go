package packet

import "errors"

// The parse errors. Each is the peer breaking the protocol: the server
// ends the connection (Socket.IO: "an invalid packet ends the
// connection").
var (
	// Engine.IO
	ErrEmpty     = errors.New("packet: empty packet") // an empty frame or body, or nothing between two separators
	ErrType      = errors.New("packet: unknown packet type")
	ErrBase64    = errors.New("packet: bad base64 in a binary packet")
	ErrUTF8      = errors.New("packet: text packet not valid UTF-8")
	ErrTooMany   = errors.New("packet: too many packets in a payload")
	ErrHandshake = errors.New("packet: bad handshake data")

	// Socket.IO
	ErrAttachments = errors.New("packet: bad attachment count")
	ErrNamespace   = errors.New("packet: namespace not ended by ','")
	ErrID          = errors.New("packet: bad ack id")
	ErrData        = errors.New("packet: data not of the packet type's form")
	ErrJSON        = errors.New("packet: data not valid JSON")
	ErrEventName   = errors.New("packet: event name not a string")
	ErrReserved    = errors.New("packet: reserved event name")
	ErrPlaceholder = errors.New("packet: bad attachment placeholder")
)
