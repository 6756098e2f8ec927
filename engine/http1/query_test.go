package http1

import (
	"strings"
	"testing"
)

func TestQuery(t *testing.T) {
	const absent = "<absent>"
	cases := []struct {
		target, name, want string
	}{
		{"/p?EIO=4&transport=polling&sid=abc", "sid", "abc"},
		{"/p?EIO=4&transport=polling&sid=abc", "EIO", "4"},
		{"/p?EIO=4&transport=polling&sid=abc", "transport", "polling"},
		{"/p?EIO=4&transport=polling", "sid", absent},
		{"/p", "sid", absent},
		{"/p?", "sid", absent},
		{"/p?sid", "sid", ""},
		{"/p?sid=", "sid", ""},
		{"/p?sid=&sid=b", "sid", ""},   // the first decides
		{"/p?sid=a&sid=b", "sid", "a"}, // the first decides
		{"/p?xsid=a&sid=b", "sid", "b"},
		{"/p?a=1&&sid=b", "sid", "b"},
		{"/p?sid=a%2Fb%3d", "sid", "a/b="},
		{"/p?sid=a+b", "sid", "a+b"},  // not a form: '+' is '+'
		{"/p?s%69d=a", "sid", absent}, // names as written
		{"/p?sid=a=b", "sid", "a=b"},
		{"http://h.example/p?sid=x", "sid", "x"},
		{"http://h.example?sid=x", "sid", "x"},
	}
	for _, c := range cases {
		r, err := Parse([]byte("GET " + c.target + " HTTP/1.1\r\nHost: h\r\n\r\n"))
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.target, err)
		}
		dst := []byte("kept:")
		got, ok := r.Query(dst, c.name)
		if !strings.HasPrefix(string(got), "kept:") {
			t.Fatalf("Query(%q, %q) = %q: did not append to dst", c.target, c.name, got)
		}
		g := string(got[len(dst):])
		if !ok {
			if len(got) != len(dst) {
				t.Errorf("Query(%q, %q) = %q, false: dst changed", c.target, c.name, got)
			}
			g = absent
		}
		if g != c.want {
			t.Errorf("Query(%q, %q) = %q; want %q", c.target, c.name, g, c.want)
		}
	}
}

// TestQueryParamMalformed: Parse refuses a target with a malformed
// escape, but QueryParam, on a query from elsewhere, gives no value for one.
func TestQueryParamMalformed(t *testing.T) {
	for _, q := range []string{"sid=a%2", "sid=a%", "sid=%zz", "a=1&sid=%4"} {
		dst := []byte("kept")
		if got, ok := QueryParam(dst, []byte(q), "sid"); ok || string(got) != "kept" {
			t.Errorf("QueryParam(%q) = %q, %v; want none, dst unchanged", q, got, ok)
		}
	}
	if got, ok := QueryParam(nil, []byte("sid=%41%62"), "sid"); !ok || string(got) != "Ab" {
		t.Errorf("QueryParam(sid=%%41%%62) = %q, %v; want Ab", got, ok)
	}
}

func TestQueryAllocs(t *testing.T) {
	r, err := Parse([]byte("GET /socket.io/?EIO=4&transport=polling&t=P1a2b3c&sid=aGVsbG8%2Dd29ybGQ HTTP/1.1\r\nHost: h\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { r.Query(dst[:0], "sid") }); n != 0 {
		t.Errorf("%v allocations; want 0", n)
	}
}
