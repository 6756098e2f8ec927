package codec

// ProtocolError is a violation of RFC 6455 by the peer. It carries the close
// code and reason the connection is failed with. The package's sentinel
// errors are all *ProtocolError values; compare with errors.Is.
type ProtocolError struct {
	Code   StatusCode
	Reason string
}

func (e *ProtocolError) Error() string { return "codec: " + e.Reason }

func protocolError(code StatusCode, reason string) *ProtocolError {
	return &ProtocolError{Code: code, Reason: reason}
}

// Errors returned by the frame parser. Their Reason is what the peer reads in
// the close frame, so it is short and says what was wrong.
var (
	ErrNonMinimalLength = protocolError(StatusProtocolError, "non-minimal payload length")
	ErrLengthOverflow   = protocolError(StatusProtocolError, "payload length overflows 63 bits")
	ErrReservedBits     = protocolError(StatusProtocolError, "reserved bits set without extension")
	ErrReservedOpCode   = protocolError(StatusProtocolError, "reserved opcode")
	// With permessage-deflate, RSV1 marks a message's first frame only
	// (RFC 7692 section 6).
	ErrCompressedControl      = protocolError(StatusProtocolError, "RSV1 set on a control frame")
	ErrCompressedContinuation = protocolError(StatusProtocolError, "RSV1 set on a continuation frame")
	ErrUnmasked               = protocolError(StatusProtocolError, "client frame not masked")
	ErrMasked                 = protocolError(StatusProtocolError, "server frame masked")
	ErrControlTooLong         = protocolError(StatusProtocolError, "control frame payload over 125 bytes")
	ErrControlFragmented      = protocolError(StatusProtocolError, "fragmented control frame")
	ErrUnexpectedCont         = protocolError(StatusProtocolError, "continuation with no message to continue")
	ErrExpectedCont           = protocolError(StatusProtocolError, "new message before the last fragment")
	ErrMessageTooBig          = protocolError(StatusMessageTooBig, "message too big")
	ErrTooManyFragments       = protocolError(StatusMessageTooBig, "message in too many fragments")
	ErrInvalidUTF8            = protocolError(StatusInvalidPayload, "invalid UTF-8 in text message")
	ErrCloseLength            = protocolError(StatusProtocolError, "close payload of 1 byte")
	ErrCloseCode              = protocolError(StatusProtocolError, "invalid close code")
	ErrCloseReason            = protocolError(StatusInvalidPayload, "invalid UTF-8 in close reason")
)
