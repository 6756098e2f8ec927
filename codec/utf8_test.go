package codec

import (
	"testing"
	"unicode/utf8"
)

// utf8Cases are valid and invalid sequences of the kinds RFC 3629 and the
// Autobahn UTF-8 cases probe.
var utf8Cases = []struct {
	name string
	in   string
	ok   bool
}{
	{name: "empty", in: "", ok: true},
	{name: "ascii", in: "Hello-µ@ßöäüàá-UTF-8!!", ok: true},
	{name: "greek", in: "κόσμε", ok: true},
	{name: "first 2-byte", in: "\u0080", ok: true},
	{name: "first 3-byte", in: "\u0800", ok: true},
	{name: "first 4-byte", in: "\U00010000", ok: true},
	{name: "last code point", in: "\U0010FFFF", ok: true},
	{name: "noncharacter FFFE", in: "\uFFFE", ok: true},
	{name: "noncharacter FDD0", in: "\uFDD0", ok: true},
	{name: "above 10FFFF", in: "\xf4\x90\x80\x80", ok: false},
	{name: "5-byte form", in: "\xf8\x88\x80\x80\x80", ok: false},
	{name: "lone continuation", in: "\x80", ok: false},
	{name: "overlong slash 2", in: "\xc0\xaf", ok: false},
	{name: "overlong slash 3", in: "\xe0\x80\xaf", ok: false},
	{name: "overlong slash 4", in: "\xf0\x80\x80\xaf", ok: false},
	{name: "overlong max 3", in: "\xe0\x9f\xbf", ok: false},
	{name: "high surrogate", in: "\xed\xa0\x80", ok: false},
	{name: "low surrogate", in: "\xed\xbf\xbf", ok: false},
	{name: "surrogate pair", in: "\xed\xa0\x80\xed\xb0\x80", ok: false},
	{name: "truncated 3-byte", in: "\xe2\x82", ok: false},
	{name: "truncated at end of ascii run", in: "abcdefghijklmnop\xce", ok: false},
	{name: "fe", in: "\xfe", ok: false},
	{name: "ff", in: "\xff", ok: false},
	{name: "bad byte after long ascii", in: "abcdefghijklmnopqrstuvwxyz\xff", ok: false},
}

func TestUTF8(t *testing.T) {
	for _, tc := range utf8Cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidUTF8([]byte(tc.in)); got != tc.ok {
				t.Fatalf("ValidUTF8(%q) = %v, want %v", tc.in, got, tc.ok)
			}
			if tc.ok != utf8.ValidString(tc.in) {
				t.Fatalf("case disagrees with unicode/utf8 on %q", tc.in)
			}
			// Split at every point, as fragments would split it.
			for i := 0; i <= len(tc.in); i++ {
				var u UTF8
				got := u.Write([]byte(tc.in[:i])) && u.Write([]byte(tc.in[i:])) && u.Complete()
				if got != tc.ok {
					t.Fatalf("split at %d: %v, want %v", i, got, tc.ok)
				}
			}
		})
	}
}

// TestUTF8FailsFast checks that a bad byte is reported by the Write that
// carries it, not later: a fragment with an impossible sequence fails
// before the message's end is known.
func TestUTF8FailsFast(t *testing.T) {
	var u UTF8
	if !u.Write([]byte("κόσμε")) {
		t.Fatal("valid prefix refused")
	}
	if u.Write([]byte("\xf4\x90")) {
		t.Fatal("bytes of a code point above U+10FFFF accepted")
	}
	var v UTF8
	if !v.Write([]byte("\xe2")) || v.Complete() {
		t.Fatal("lead byte of a 3-byte sequence must be pending, not complete")
	}
	if v.Write([]byte("a")) {
		t.Fatal("ascii where a continuation byte was due accepted")
	}
}

func FuzzUTF8(f *testing.F) {
	for _, tc := range utf8Cases {
		f.Add([]byte(tc.in), uint8(len(tc.in)/2))
	}
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		i := int(split)
		if i > len(b) {
			i = len(b)
		}
		var u UTF8
		got := u.Write(b[:i]) && u.Write(b[i:]) && u.Complete()
		if want := utf8.Valid(b); got != want {
			t.Fatalf("% x split at %d: got %v, unicode/utf8 says %v", b, i, got, want)
		}
	})
}
