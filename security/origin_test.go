package security

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/publicsuffix"
)

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

// TestParseOriginsSays: the refusals an operator is likely to meet each
// say what is wrong.
func TestParseOriginsSays(t *testing.T) {
	for _, c := range []struct{ entry, says string }{
		{"ftp://host", "the scheme must be http or https"},
		{"ws://app.example.com", "the scheme must be http or https"},
		{"FTP://host:21", "the scheme must be http or https"},
		{"https://a.com:99999", "the port must be a number from 1 to 65535"},
		{"http://localhost:0", "the port must be a number from 1 to 65535"},
		{"http://localhost:", "the port must be a number from 1 to 65535"},
		{"http://[::1]:70000", "the port must be a number from 1 to 65535"},
		{"https://*.com", "com is a public suffix"},
		{"https://*.co.uk", "co.uk is a public suffix"},
		{"https://*.github.io", "github.io is a public suffix"},
		{"https://*.COM.", "com is a public suffix"},
		{"https://*.s3.amazonaws.com:8443", "s3.amazonaws.com is a public suffix"},
		{"https://*.localhost", "a wildcard over a top-level name"},
		{"http://*.127.0.0.1:3000", "not an IP address"},
		{"app.example.com", "is not scheme://host[:port]"},
	} {
		_, err := ParseOrigins([]string{c.entry})
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseOrigins(%q): %v; want an error that says %q", c.entry, err, c.says)
		}
	}
	// Patterns over a registrable domain, under a public suffix or not.
	for _, e := range []string{"https://*.example.com", "https://*.example.co.uk", "https://*.wssd.github.io", "http://*.corp.internal:8080"} {
		if _, err := ParseOrigins([]string{e}); err != nil {
			t.Errorf("ParseOrigins(%q): %v", e, err)
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
	for _, s := range []string{"https://*.com", "https://*.co.uk", "ftp://host", "http://host:99999", "https://*.example.co.uk:8443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		checkAccepted(t, origin)
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

// checkAccepted checks that an entry ParseOrigins accepts is null, or an
// http or https origin with a port from 1 to 65535 whose wildcard, if it
// has one, is over a domain with a registrable name (the Public Suffix
// List's eTLD+1 or longer).
func checkAccepted(t *testing.T, entry string) {
	if _, err := ParseOrigins([]string{entry}); err != nil {
		return
	}
	e := strings.TrimSpace(entry)
	if e == "null" {
		return
	}
	scheme, host, port, ok := splitOrigin(e)
	if !ok {
		t.Fatalf("accepted %q, which does not parse", entry)
	}
	if scheme != "http" && scheme != "https" {
		t.Fatalf("accepted %q, scheme %q", entry, scheme)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		t.Fatalf("accepted %q, port %q", entry, port)
	}
	if domain, wild := strings.CutPrefix(host, "*."); wild {
		domain = strings.TrimRight(domain, ".")
		if _, err := publicsuffix.EffectiveTLDPlusOne(domain); err != nil {
			t.Fatalf("accepted %q, a wildcard over %q, which is no registrable domain (%v)", entry, domain, err)
		}
	}
}
