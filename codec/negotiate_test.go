package codec

import (
	"slices"
	"testing"
)

func lines(v ...string) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for _, s := range v {
			if !yield([]byte(s)) {
				return
			}
		}
	}
}

func TestNegotiateDeflate(t *testing.T) {
	const none = "" // declined
	plain := DeflatePolicy{}
	takeover := DeflatePolicy{ContextTakeover: true, WindowBits: 12}
	full := DeflatePolicy{ContextTakeover: true}
	for _, tc := range []struct {
		policy DeflatePolicy
		offer  []string
		want   string
	}{
		// Without context takeover, every agreement forbids it both ways.
		{plain, []string{"permessage-deflate"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		// What browsers send.
		{plain, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{plain, []string{"permessage-deflate; server_max_window_bits=10"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"},
		{plain, []string{`permessage-deflate; server_max_window_bits="9"`}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"},
		{plain, []string{"Permessage-Deflate; Server_Max_Window_Bits=8"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8"},
		{plain, []string{"permessage-deflate ; server_no_context_takeover ;\tclient_no_context_takeover"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		// RFC 7692 section 5.2's example: the first acceptable offer.
		{plain, []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"},
		{plain, []string{"foo, permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=11"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11"},
		{plain, []string{"x-webkit-deflate-frame", "permessage-deflate"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{plain, []string{"", " , ,permessage-deflate"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		// With context takeover, within its window.
		{takeover, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate; client_max_window_bits=12"},
		{takeover, []string{"permessage-deflate; client_max_window_bits=10"}, "permessage-deflate; client_max_window_bits=10"},
		{takeover, []string{"permessage-deflate; client_max_window_bits=15"}, "permessage-deflate; client_max_window_bits=12"},
		{takeover, []string{"permessage-deflate"}, "permessage-deflate; client_no_context_takeover"},
		{takeover, []string{"permessage-deflate; client_max_window_bits; server_no_context_takeover"}, "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"},
		{takeover, []string{"permessage-deflate; client_no_context_takeover; client_max_window_bits"}, "permessage-deflate; client_no_context_takeover"},
		{takeover, []string{"permessage-deflate; server_max_window_bits=10; client_max_window_bits"}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"},
		{takeover, []string{"permessage-deflate; server_max_window_bits=15; client_max_window_bits"}, "permessage-deflate; server_max_window_bits=15; client_max_window_bits=12"},
		{full, []string{"permessage-deflate"}, "permessage-deflate"},
		// Declined: malformed, unknown or repeated parameters.
		{plain, nil, none},
		{plain, []string{"foo; bar=1"}, none},
		{plain, []string{"permessage-deflate; foo"}, none},
		{plain, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, none},
		{plain, []string{"permessage-deflate; server_no_context_takeover=1"}, none},
		{plain, []string{"permessage-deflate; client_no_context_takeover=\"\""}, none},
		{plain, []string{"permessage-deflate; server_max_window_bits"}, none},
		{plain, []string{"permessage-deflate; server_max_window_bits=7"}, none},
		{plain, []string{"permessage-deflate; server_max_window_bits=16"}, none},
		{plain, []string{"permessage-deflate; server_max_window_bits=010"}, none},
		{plain, []string{"permessage-deflate; server_max_window_bits=abc"}, none},
		{plain, []string{"permessage-deflate; server_max_window_bits=1 0"}, none},
		{plain, []string{"permessage-deflate; client_max_window_bits=16"}, none},
		{plain, []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=10"}, none},
		{plain, []string{"permessage-deflate;"}, none},
		{plain, []string{"permessage-deflate=1"}, none},
		{plain, []string{"permessage-deflate; =10"}, none},
		{plain, []string{`permessage-deflate; server_max_window_bits="10`}, none},
		{plain, []string{`permessage-deflate; server_max_window_bits="1\0"`}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"},
		{plain, []string{`permessage-deflate; server_max_window_bits="1,0"`}, none},
		{plain, []string{"permessage-deflate-x"}, none},
		// A quoted comma does not start an offer.
		{plain, []string{`foo; a="x, permessage-deflate"`}, none},
		// After an element that cannot be parsed, nothing is read.
		{plain, []string{`foo; a="unterminated, permessage-deflate`, "permessage-deflate"}, none},
	} {
		a, ok := NegotiateDeflate(lines(tc.offer...), tc.policy)
		got := none
		if ok {
			got = string(a.AppendResponse(nil))
		}
		if got != tc.want {
			t.Errorf("%+v %q:\n got %q\nwant %q", tc.policy, tc.offer, got, tc.want)
		}
		if ok {
			// The client that offered it accepts the answer.
			offer, _ := firstOffer(tc.offer)
			b, ok2, err := ParseDeflateResponse(lines(got), offer)
			if err != nil || !ok2 || b != a {
				t.Errorf("%q: the offer's client reads %q as %+v, %v, %v", tc.offer, got, b, ok2, err)
			}
		}
	}
}

// firstOffer returns the offer the server took.
func firstOffer(v []string) (DeflateOffer, bool) {
	for _, l := range v {
		for e, bad := range extensions([]byte(l)) {
			if bad {
				return DeflateOffer{}, false
			}
			if o, ok := parseDeflateOffer(e); ok {
				return o, true
			}
		}
	}
	return DeflateOffer{}, false
}

func TestParseDeflateResponse(t *testing.T) {
	browser := DeflateOffer{ClientWindowBits: true}
	small := DeflateOffer{DeflateParams: DeflateParams{ServerMaxWindowBits: 10, ServerNoContextTakeover: true}}
	for _, tc := range []struct {
		offer DeflateOffer
		resp  []string
		ok    bool
		bad   bool
	}{
		{browser, nil, false, false},
		{browser, []string{"permessage-deflate"}, true, false},
		{browser, []string{"permessage-deflate; client_max_window_bits=9"}, true, false},
		{browser, []string{"permessage-deflate; client_max_window_bits"}, false, true}, // a value is required in a response
		{DeflateOffer{}, []string{"permessage-deflate; client_max_window_bits=9"}, false, true},
		{browser, []string{"permessage-deflate, permessage-deflate"}, false, true},
		{browser, []string{"permessage-deflate", "permessage-deflate"}, false, true},
		{browser, []string{"x-other"}, false, true},
		{browser, []string{"permessage-deflate; foo"}, false, true},
		{small, []string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=10"}, true, false},
		{small, []string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=9"}, true, false},
		{small, []string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=11"}, false, true},
		{small, []string{"permessage-deflate; server_no_context_takeover"}, false, true},
		{small, []string{"permessage-deflate; server_max_window_bits=10"}, false, true},
	} {
		_, ok, err := ParseDeflateResponse(lines(tc.resp...), tc.offer)
		if ok != tc.ok || (err != nil) != tc.bad {
			t.Errorf("%+v %q: ok %v, err %v", tc.offer, tc.resp, ok, err)
		}
	}
}

func TestAppendOffer(t *testing.T) {
	o := DeflateOffer{DeflateParams: DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 12}, ClientWindowBits: true}
	got := string(o.AppendOffer(nil))
	if want := "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12"; got != want {
		t.Fatalf("%q", got)
	}
	back, ok := firstOffer([]string{got})
	if !ok || back != o {
		t.Fatalf("read back as %+v", back)
	}
}

// FuzzNegotiate: any request's extension lines either give no agreement
// or one that is valid, that the server can state, and that the client
// whose offer it took accepts.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
		`foo; a="x, y", permessage-deflate; server_max_window_bits="12"`,
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9",
		`permessage-deflate; client_max_window_bits="1\5"`,
	} {
		f.Add(s, false, uint8(0))
		f.Add(s, true, uint8(11))
	}
	f.Fuzz(func(t *testing.T, line string, takeover bool, bits uint8) {
		p := DeflatePolicy{ContextTakeover: takeover, WindowBits: bits % 16}
		a, ok := NegotiateDeflate(lines(line), p)
		if !ok {
			return
		}
		offer, found := firstOffer([]string{line})
		if !found {
			t.Fatalf("%q: agreed without an offer", line)
		}
		for _, b := range []uint8{a.ServerMaxWindowBits, a.ClientMaxWindowBits} {
			if b != 0 && (b < MinWindowBits || b > MaxWindowBits) {
				t.Fatalf("%q: window bits %d", line, b)
			}
		}
		if !takeover && (!a.ServerNoContextTakeover || !a.ClientNoContextTakeover) {
			t.Fatalf("%q: context takeover without the policy: %+v", line, a)
		}
		resp := a.AppendResponse(nil)
		b, ok, err := ParseDeflateResponse(lines(string(resp)), offer)
		if err != nil || !ok || b != a {
			t.Fatalf("%q: response %q read back as %+v, %v, %v", line, resp, b, ok, err)
		}
		// An agreement with a window kept for the client's messages
		// bounds it by the policy, or the policy's window is full.
		if takeover && !a.ClientNoContextTakeover {
			w := a.ClientMaxWindowBits
			if w == 0 {
				w = MaxWindowBits
			}
			pb := p.WindowBits
			if pb == 0 {
				pb = MaxWindowBits
			}
			if w > max(pb, MinWindowBits+1) {
				t.Fatalf("%q: client window %d past the policy's %d", line, w, pb)
			}
		}
	})
}

// FuzzInflate: whatever a peer sends as a compressed message, inflating it
// never gives more than the limit, and what the Compressor makes inflates
// back to what it was.
func FuzzInflate(f *testing.F) {
	for _, p := range [][]byte{rfcHello, rfcHelloTakeover, rfcHelloStored, rfcHelloFinal, rfcHelloTwo, {0xff}, nil} {
		f.Add(p, uint16(100), uint8(0))
	}
	f.Add(jsonish(3000, 3), uint16(64), uint8(9))
	d := NewDecompressor()
	z, _ := NewCompressor(0)
	f.Fuzz(func(t *testing.T, p []byte, limit uint16, bits uint8) {
		out, err := d.Append([]byte("x"), p, int64(limit), nil)
		if len(out)-1 > int(limit)+1 {
			t.Fatalf("inflated %d bytes with a limit of %d (%v)", len(out)-1, limit, err)
		}
		if err == nil && len(out)-1 > int(limit) {
			t.Fatalf("%d bytes past a limit of %d without an error", len(out)-1, limit)
		}
		c := z.Append(nil, p, bits%16, nil)
		back, err := d.Append(nil, c, int64(len(p)), nil)
		if err != nil || !slices.Equal(back, p) {
			t.Fatalf("round trip of %d bytes at %d bits: %d bytes, %v", len(p), bits%16, len(back), err)
		}
	})
}
