package security

import "testing"

func TestOrigins(t *testing.T) {
	o, err := ParseOrigins([]string{
		"https://app.example.com",
		"http://localhost:8080",
		"HTTPS://Upper.Example.org:443/",
		"https://*.example.net",
		"http://[::1]:3000",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		origin string
		want   bool
	}{
		{"https://app.example.com", true},
		{"https://app.example.com:443", true}, // default port written out
		{"HTTPS://APP.EXAMPLE.COM", true},     // case does not matter
		{"http://app.example.com", false},     // scheme
		{"https://app.example.com:8443", false},
		{"https://example.com", false},
		{"https://app.example.com.evil.net", false},
		{"https://evilapp.example.com", false},
		{"https://app.example.comx", false},
		{"http://localhost:8080", true},
		{"http://localhost", false}, // port 80
		{"http://localhost:80800", false},
		{"https://upper.example.org", true},
		{"https://a.example.net", true},
		{"https://a.b.example.net", true},
		{"https://example.net", false}, // the pattern is for subdomains only
		{"https://evilexample.net", false},
		{"https://a.example.net:8443", false},
		{"http://a.example.net", false},
		{"https://a.example.net.evil.com", false},
		{"http://[::1]:3000", true},
		{"http://[::1]:3001", false},
		{"null", false},
		{"", false},
		{"app.example.com", false},
		{"https://user@app.example.com", false},
		{"https://app.example.com/path", false},
		{"ftp://app.example.com", false},
	}
	for _, c := range cases {
		if got := o.Allow([]byte(c.origin)); got != c.want {
			t.Errorf("Allow(%q) = %v; want %v", c.origin, got, c.want)
		}
	}
	withNull, err := ParseOrigins([]string{"null"})
	if err != nil || !withNull.Allow([]byte("null")) {
		t.Errorf("a list naming null: Allow(null) false (%v)", err)
	}
}

func TestParseOriginsRefuses(t *testing.T) {
	for _, e := range []string{
		"example.com", "https://", "https://a.com/path", "https://a.com?q", "https://u@a.com",
		"https://a.*.com", "https://*", "https://*.", "https://a.com:0", "https://a.com:99999", "gopher://a.com",
	} {
		if _, err := ParseOrigins([]string{e}); err == nil {
			t.Errorf("ParseOrigins(%q) accepted", e)
		}
	}
}

func TestOriginsAllowAllocs(t *testing.T) {
	o, err := ParseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	origin := []byte("https://app.example.com")
	if n := testing.AllocsPerRun(100, func() { o.Allow(origin) }); n != 0 {
		t.Errorf("Allow of a listed canonical origin: %v allocations; want 0", n)
	}
}

func FuzzOrigins(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "https://a.example.net:443", "http://[::1]:3000", "null", "https://a.com/x"} {
		f.Add(s)
	}
	o, err := ParseOrigins([]string{"https://app.example.com", "https://*.example.net", "http://[::1]:3000"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		if !o.Allow([]byte(origin)) {
			return
		}
		// Anything allowed is one of the listed origins, or a subdomain
		// of the pattern, once canonical.
		scheme, host, port, ok := splitOrigin(origin)
		if !ok {
			t.Fatalf("allowed %q, which does not parse", origin)
		}
		c := canonical(scheme, host, port)
		sub := scheme == "https" && port == "443" && len(host) > len(".example.net") && host[len(host)-len(".example.net"):] == ".example.net"
		if c != "https://app.example.com" && c != "http://[::1]:3000" && !sub {
			t.Fatalf("allowed %q (canonical %q)", origin, c)
		}
	})
}
