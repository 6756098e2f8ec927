package engine

import (
	"testing"

	"github.com/gobwas/ws"
)

// TestFailFastInsideFrame is Autobahn 6.4.3 and 6.4.4: one text frame
// whose payload turns invalid part way arrives in chops, and the server
// must fail the connection with 1007 as soon as the bad bytes arrive, before
// the rest of the frame is sent.
func TestFailFastInsideFrame(t *testing.T) {
	part1 := "κόσμε"
	part2 := "\xf4\x90\x80\x80" // U+110000: beyond Unicode
	part3 := "edited"
	payload := []byte(part1 + part2 + part3)
	for _, tc := range []struct {
		name  string
		chops []int // bytes of the frame in each write but the last
	}{
		{
			name:  "6.4.3 three chops",
			chops: []int{len(part1), len(part2)},
		},
		{
			name:  "6.4.4 two chops, inside the bad code point",
			chops: []int{len(part1), 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{})
			c := confDial(t, confAddr{hostport: addr})
			frame := confBuildFrame(cfFin|cfText, payload, true)
			hl := len(frame) - len(payload)
			off := 0
			for i, n := range tc.chops {
				if i == 0 {
					n += hl // the header goes with the first chop
				}
				c.mustSend(frame[off:off+n], 0)
				off += n
			}
			// The rest of the frame (frame[off:]) is never sent: a server
			// that waits for the whole frame times out here.
			c.expectClose(ws.StatusInvalidFramePayloadData)
		})
	}
}
