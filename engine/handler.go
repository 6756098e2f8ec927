package engine

import "github.com/wssd/wssd/codec"

// Handler receives the events of the WebSocket connections of one route.
// Its methods are called on the connection's event loop, one at a time per
// connection, and must not block: a slow handler stalls every connection on
// the same loop.
type Handler interface {
	// OnOpen is called once the 101 response has been written.
	OnOpen(c *Conn)
	// OnMessage is called with each complete text or binary message.
	// data is borrowed from the connection's read buffer and is valid only
	// until OnMessage returns: copy it to keep it.
	OnMessage(c *Conn, op codec.OpCode, data []byte)
	// OnClose is called once when the connection is gone, with the close
	// code and reason the peer sent, the ones the server sent if it closed
	// first, or codec.StatusAbnormal when the TCP connection ended without
	// a close frame. reason is valid only until OnClose returns.
	OnClose(c *Conn, code codec.StatusCode, reason string)
}

// Echo is the handler of the /echo route: every message is sent back as it
// came, text as text and binary as binary.
type Echo struct{}

// OnOpen does nothing. Called on the connection's event loop.
func (Echo) OnOpen(*Conn) {}

// OnMessage writes data back. Called on the connection's event loop.
func (Echo) OnMessage(c *Conn, op codec.OpCode, data []byte) { _ = c.Write(op, data) }

// OnClose does nothing. Called on the connection's event loop.
func (Echo) OnClose(*Conn, codec.StatusCode, string) {}
