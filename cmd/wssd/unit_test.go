package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unitFile is the systemd unit a package installs (README: Running on a
// host).
const unitFile = "wssd.service"

// unitSettings reads the [Service] section of a unit: continuation lines
// joined, comments dropped, each key's values in order.
func unitSettings(t *testing.T, text string) map[string][]string {
	t.Helper()
	settings := map[string][]string{}
	section := ""
	var line string
	for _, raw := range strings.Split(text, "\n") {
		raw = strings.TrimSpace(raw)
		if line == "" && (raw == "" || raw[0] == '#' || raw[0] == ';') {
			continue
		}
		if strings.HasSuffix(raw, "\\") {
			line += strings.TrimSuffix(raw, "\\") + " "
			continue
		}
		line += raw
		if strings.HasPrefix(line, "[") {
			section = line
		} else if section == "[Service]" {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not key=value: %q", unitFile, line)
			}
			settings[k] = append(settings[k], v)
		}
		line = ""
	}
	return settings
}

// TestUnitFlags checks the unit against the binary it starts: its command
// line parses as wssd's flags, and systemd waits for the drain before it
// kills.
func TestUnitFlags(t *testing.T) {
	text, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	s := unitSettings(t, string(text))
	if len(s["ExecStart"]) != 1 {
		t.Fatalf("want one ExecStart, have %q", s["ExecStart"])
	}
	args := strings.Fields(s["ExecStart"][0])
	if args[0] != "/usr/local/bin/wssd" {
		t.Errorf("ExecStart runs %s, want /usr/local/bin/wssd", args[0])
	}
	o, err := parseFlags(args[1:], io.Discard)
	if err != nil {
		t.Fatalf("ExecStart's flags: %v", err)
	}
	if o.listen != ":443" || o.certFile != "/etc/wssd/cert.pem" || o.keyFile != "/etc/wssd/key.pem" || o.dataDir != "/var/lib/wssd" {
		t.Errorf("ExecStart: listen %q cert %q key %q data-dir %q", o.listen, o.certFile, o.keyFile, o.dataDir)
	}

	stop, err := time.ParseDuration(strings.Join(s["TimeoutStopSec"], ""))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	// After the drain, Shutdown closes what is left: leave it a few seconds.
	if stop < o.drainTimeout+5*time.Second {
		t.Errorf("TimeoutStopSec=%v leaves the %v drain too little room before SIGKILL", stop, o.drainTimeout)
	}

	want := map[string]string{
		"KillSignal":              "SIGTERM",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"LimitNOFILE":             "1048576",
		"StateDirectory":          "wssd",
		"AmbientCapabilities":     "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	}
	for k, v := range want {
		if got := strings.Join(s[k], "\n"); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if s["User"] == nil && s["DynamicUser"] == nil {
		t.Error("no User= or DynamicUser=: the service would run as root")
	}
	// ProcSubset=pid hides /proc/sys/net/core/somaxconn, which Go reads to
	// size the listen backlog (128 without it).
	if s["ProcSubset"] != nil {
		t.Errorf("ProcSubset=%q", s["ProcSubset"])
	}
}

// TestUnitVerify runs systemd-analyze verify on the unit, its ExecStart
// pointed at a freshly built binary, and checks that the same run reports
// broken copies of it. verify exits 0 on most mistakes (an unknown key, a
// value it cannot parse) and only warns, so any line about the unit fails.
// Without systemd-analyze the test is skipped, unless WSSD_SYSTEMD_VERIFY
// is set (make verify-unit), where it fails.
func TestUnitVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("WSSD_SYSTEMD_VERIFY") != "" {
			t.Fatal("systemd-analyze not found (Debian package systemd); make verify-unit installs it")
		}
		t.Skip("systemd-analyze not found (Debian package systemd): the unit is not verified; make verify-unit installs it")
	}
	text, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	unit := strings.ReplaceAll(string(text), "ExecStart=/usr/local/bin/wssd ", "ExecStart="+bin+" ")
	if unit == string(text) {
		t.Fatal("no ExecStart=/usr/local/bin/wssd to point at the built binary")
	}

	verify := func(t *testing.T, unit string) (problems []string, failed bool) {
		t.Helper()
		path := filepath.Join(t.TempDir(), unitFile)
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", "--generators=no", path).CombinedOutput()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			switch {
			case l == "":
			case strings.Contains(l, path) || strings.Contains(l, unitFile):
				problems = append(problems, l)
			default:
				// Other units (its dependencies) are the host's business.
				t.Logf("systemd-analyze: %s", l)
			}
		}
		return problems, err != nil
	}

	t.Run("unit", func(t *testing.T) {
		problems, failed := verify(t, unit)
		if failed || len(problems) > 0 {
			t.Errorf("systemd-analyze verify (failed: %v):\n%s", failed, strings.Join(problems, "\n"))
		}
	})

	broken := []struct{ name, from, to string }{
		{"unknown key", "NoNewPrivileges=yes", "NoNewPrivilege=yes"},
		{"bad value", "LimitNOFILE=1048576", "LimitNOFILE=lots"},
		{"unknown syscall set", "SystemCallFilter=@system-service", "SystemCallFilter=@system-services"},
		{"missing binary", "ExecStart=" + bin + " ", "ExecStart=" + bin + ".missing "},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			if !strings.Contains(unit, b.from) {
				t.Fatalf("the unit has no %q to break", b.from)
			}
			problems, failed := verify(t, strings.Replace(unit, b.from, b.to, 1))
			if !failed && len(problems) == 0 {
				t.Errorf("systemd-analyze verify found nothing wrong with %q", b.to)
			}
		})
	}
}
