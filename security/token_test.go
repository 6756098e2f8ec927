package security

import (
	"bytes"
	"testing"
)

// none marks an extraction that finds no token.
const none = "<none>"

func TestBearerToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Bearer x", "x"},
		{"bearer   x", "x"},
		{"BEARER abc.def-ghi_jkl", "abc.def-ghi_jkl"},
		{"BeArEr a~b+c/d==", "a~b+c/d=="},
		{" \tBearer x \t", "x"}, // whitespace around a field value
		{"Basic x", none},
		{"Bearer", none},
		{"Bearer ", none},
		{"Bearer    ", none},
		{"Bearerx", none},
		{"Bearer\tx", none}, // RFC 9110: SP after the scheme
		{"Bearer a b", none},
		{"Bearer a,b", none},
		{"Bearer a\"b", none},
		{"Bearer =", none},
		{"Bearer a=b", none},
		{"Bearer, x", none},
		{"Bear x", none},
		{"", none},
	} {
		got, ok := BearerToken([]byte(c.in))
		if g := result(got, ok); g != c.want {
			t.Errorf("BearerToken(%q) = %s; want %s", c.in, g, c.want)
		}
	}
}

func TestQueryToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/ws?token=abc", "abc"},
		{"/ws?a=1&token=abc&b=2", "abc"},
		{"/ws?token=abc&a=1&token=def", "abc"},
		{"/ws?token=a&token=b", "a"},
		{"/ws?token=&token=b", none}, // the first decides
		{"/ws?token=", none},
		{"/ws?token", none},
		{"/ws?a=1&&token=abc", "abc"},
		{"/ws?token=a%2Eb%2fc%41", "a.b/cA"},
		{"/ws?token=a+b", "a+b"}, // not a space
		{"/ws?token=a%20b", "a b"},
		{"/ws?token=%zz", none},
		{"/ws?token=ab%4", none},
		{"/ws?token=ab%", none},
		{"/ws?a=%zz&token=abc", "abc"}, // another parameter's escapes do not matter
		{"/ws?token=a=b", "a=b"},
		{"/ws?token=abc#frag", "abc"},
		{"/ws?token=abc#token=def", "abc"},
		{"/ws#token=abc", none},
		{"/ws?a=1#&token=abc", none},
		{"/ws?xtoken=1", none},
		{"/ws?tokenx=1", none},
		{"/ws?Token=1", none},
		{"/ws?%74oken=1", none}, // names are not decoded
		{"/ws?access_token=1", none},
		{"?token=abc", "abc"},
		{"token=abc", "abc"}, // a bare query
		{"a=1&token=abc", "abc"},
		{"a=http://x&token=abc", "abc"},
		{"token=abc#frag", "abc"},
		{"ws://host/ws?token=abc", "abc"},
		{"https://host:443/?token=abc", "abc"},
		{"ws://host/token=abc", none},
		{"/token=abc", none}, // a path
		{"/a&token=abc", none},
		{"/ws", none},
		{"", none},
	} {
		dst := []byte("buf:")
		got, ok := QueryToken(dst, []byte(c.in))
		if !bytes.HasPrefix(got, []byte("buf:")) || !ok && len(got) != len("buf:") {
			t.Errorf("QueryToken(%q) = %q: did not append to dst", c.in, got)
			continue
		}
		g := none
		if ok {
			g = string(got[len("buf:"):])
		}
		if g != c.want {
			t.Errorf("QueryToken(%q) = %s; want %s", c.in, g, c.want)
		}
	}
}

func TestProtocolToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"bearer, abc", "abc"},
		{"chat, bearer, abc", "abc"},
		{" Bearer ,abc", "abc"},
		{"BEARER,\tabc.def.ghi", "abc.def.ghi"},
		{"bearer,, ,abc  ", "abc"}, // empty elements
		{"bearer, abc, chat", "abc"},
		{"bearer", none},
		{"bearer, ", none},
		{"abc, bearer", none},
		{"chat", none},
		{"bearer, bearer", none},
		{"bearer, bearer, abc", none}, // the first bearer decides
		{"bearer, a b", none},
		{"bearer, a/b", none}, // not an HTTP token
		{"bearer, a=", none},
		{"bearerx, abc", none},
		{"", none},
	} {
		got, ok := ProtocolToken([]byte(c.in))
		if g := result(got, ok); g != c.want {
			t.Errorf("ProtocolToken(%q) = %s; want %s", c.in, g, c.want)
		}
	}
}

func TestTokenExtractionAllocs(t *testing.T) {
	auth := []byte("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
	proto := []byte("chat, bearer, eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
	uri := []byte("/ws?room=1&token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln%3D")
	dst := make([]byte, 0, 128)
	for name, f := range map[string]func(){
		"BearerToken":   func() { BearerToken(auth) },
		"ProtocolToken": func() { ProtocolToken(proto) },
		"QueryToken":    func() { QueryToken(dst[:0], uri) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations; want 0", name, n)
		}
	}
}

// result is a token found, or none.
func result(tok []byte, ok bool) string {
	if !ok {
		if tok != nil {
			return "<none, but a token>"
		}
		return none
	}
	return string(tok)
}

// isSubslice reports whether sub is a slice of of, sharing its memory.
func isSubslice(sub, of []byte) bool {
	if len(sub) == 0 || cap(of) == 0 || cap(sub) > cap(of) {
		return false
	}
	i := cap(of) - cap(sub)
	return &sub[:cap(sub)][cap(sub)-1] == &of[:cap(of)][cap(of)-1] && i+len(sub) <= len(of)
}

// FuzzTokenExtraction checks the extraction functions against each other
// and themselves on any input: no panic, tokens that are pieces of the
// input and of the syntax promised.
//
//	go test -run '^$' -fuzz '^FuzzTokenExtraction$' -fuzztime 20s ./security
func FuzzTokenExtraction(f *testing.F) {
	for _, s := range []string{
		"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
		"bearer   x==",
		"Basic dXNlcjpwYXNz",
		"chat, bearer, abc.def.ghi",
		" Bearer ,abc",
		"/ws?a=1&token=abc%2E&access_token=x#token=y",
		"/ws?token=&token=b",
		"token=a=b&token=%zz",
		"ws://host/ws?token=REDACTED",
		"/ws?token=n=REDACTED",
		"/ws?token=%41",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		in = in[:len(in):len(in)] // so that a subslice shares the end of in's capacity

		if tok, ok := BearerToken(in); ok {
			if !isSubslice(tok, in) || !isToken68(tok) {
				t.Fatalf("BearerToken(%q) = %q: not a token68 of the input", in, tok)
			}
			if again, ok := BearerToken(append([]byte("Bearer "), tok...)); !ok || !bytes.Equal(again, tok) {
				t.Fatalf("BearerToken(Bearer %q) = %q, %v", tok, again, ok)
			}
		} else if tok != nil {
			t.Fatalf("BearerToken(%q): no token, but %q", in, tok)
		}

		if tok, ok := ProtocolToken(in); ok {
			if !isSubslice(tok, in) || !isHTTPToken(tok) || bytes.ContainsAny(tok, ", \t") {
				t.Fatalf("ProtocolToken(%q) = %q: not an HTTP token of the input", in, tok)
			}
			if again, ok := ProtocolToken(append([]byte("bearer, "), tok...)); !ok || !bytes.Equal(again, tok) {
				t.Fatalf("ProtocolToken(bearer, %q) = %q, %v", tok, again, ok)
			}
		} else if tok != nil {
			t.Fatalf("ProtocolToken(%q): no token, but %q", in, tok)
		}

		dst := []byte("dst")
		got, ok := QueryToken(dst, in)
		if !bytes.HasPrefix(got, dst) || ok != (len(got) > len(dst)) || len(got)-len(dst) > len(in) {
			t.Fatalf("QueryToken(%q, %q) = %q, %v", dst, in, got, ok)
		}
		tok := got[len(dst):]
		if alone, ok2 := QueryToken(nil, in); ok2 != ok || !bytes.Equal(alone, tok) {
			t.Fatalf("QueryToken(nil, %q) = %q, %v; with a buffer %q, %v", in, alone, ok2, tok, ok)
		}

	})
}
