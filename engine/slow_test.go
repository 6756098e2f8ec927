package engine

import (
	"testing"

	"github.com/gobwas/ws"
)

// TestSlowConsumer: a client that sends but does not read is closed with
// 1008 once more than MaxOutbound bytes wait for it, and still receives
// what was queued before the close frame.
func TestSlowConsumer(t *testing.T) {
	const (
		size     = 16 << 10
		messages = 4096 // 64 MiB: more than the kernel buffers on both ends
	)
	_, addr := startServer(t, Config{MaxMessageSize: size, MaxOutbound: 256 << 10})
	c := confDial(t, confAddr{hostport: addr})
	frame := confBuildFrame(cfFin|cfBinary, confPattern(size, true), true)

	// Write without reading. Once the server has given up on the client
	// it discards what comes in, so every write goes through.
	for i := 0; i < messages; i++ {
		c.mustSend(frame, 0)
	}

	echoes := 0
	for {
		h, p, err := c.readFrame()
		if err != nil {
			t.Fatalf("after %d echoes: %v; want a close frame", echoes, err)
		}
		if h.OpCode == ws.OpClose {
			code, reason := confCloseFields(p)
			if code != 1008 || reason != "slow consumer" {
				t.Fatalf("close %d %q; want 1008 \"slow consumer\"", code, reason)
			}
			break
		}
		echoes++
	}
	if echoes == 0 || echoes >= messages {
		t.Fatalf("%d echoes before the close; want some, but not all %d", echoes, messages)
	}
	c.expectEOF()
}
