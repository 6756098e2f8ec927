package main

import (
	"bytes"
	"flag"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelpGroups: "wssd --help" lists every registered flag exactly once,
// each under one of the topic headings, and says no default twice.
func TestHelpGroups(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, io.Discard, &out); code != 0 {
		t.Fatalf("--help: exit %d\n%s", code, out.String())
	}
	var o options
	var raw rawFlags
	fs := newFlagSet(&o, &raw, io.Discard)
	var registered []string
	fs.VisitAll(func(f *flag.Flag) { registered = append(registered, f.Name) })

	headings := []string{"Configuration", "Listeners and TLS", "Limits", "Timeouts", "Security gates", "Pub/sub", "Socket.IO", "SockJS",
		"Compression (permessage-deflate)", "Admin and logs"}
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)( |$)`)
	under := map[string]string{} // flag -> its heading
	heading := ""
	var seenHeadings []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") {
			heading = strings.TrimSuffix(line, ":")
			seenHeadings = append(seenHeadings, heading)
			continue
		}
		m := flagLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if prev, ok := under[m[1]]; ok {
			t.Errorf("-%s is listed twice: under %q and %q", m[1], prev, heading)
		}
		if !slices.Contains(headings, heading) {
			t.Errorf("-%s is under %q, not a topic heading", m[1], heading)
		}
		under[m[1]] = heading
	}
	if !slices.Equal(seenHeadings, headings) {
		t.Errorf("headings %q; want %q", seenHeadings, headings)
	}
	for _, name := range registered {
		if _, ok := under[name]; !ok {
			t.Errorf("-%s is registered but not in --help", name)
		}
	}
	if len(under) != len(registered) {
		t.Errorf("--help lists %d flags, %d are registered", len(under), len(registered))
	}
	for _, entry := range strings.Split(out.String(), "\n  -")[1:] {
		if strings.Count(entry, "(default") > 1 {
			t.Errorf("a default said twice:\n  -%s", entry)
		}
	}
	// The deflate flags are under compression, the admin listener's under
	// admin.
	for name, want := range map[string]string{"deflate-window-bits": "Compression (permessage-deflate)", "admin": "Admin and logs",
		"listen": "Listeners and TLS", "socketio-path": "Socket.IO", "broker": "Pub/sub", "idle-timeout": "Timeouts"} {
		if under[name] != want {
			t.Errorf("-%s is under %q; want %q", name, under[name], want)
		}
	}
}

// buildInfo is what "go version -m" says of bin: the main module's version
// and the build settings.
func buildInfo(t *testing.T, bin string) (version string, settings map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	settings = map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			version = f[2]
		case len(f) == 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			settings[k] = v
		}
	}
	if version == "" {
		t.Fatalf("go version -m names no main module:\n%s", out)
	}
	return version, settings
}

// TestBinaryVersion: the built binary's --version says what its build
// information (as "go version -m" reads it) says, and exits 0.
func TestBinaryVersion(t *testing.T) {
	bin := buildBinary(t)
	version, settings := buildInfo(t, bin)
	cmd := exec.Command(bin, "--version")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wssd --version: %v\n%s", err, stderr.String())
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "wssd " + version
	var vcs []string
	if rev := settings["vcs.revision"]; rev != "" {
		vcs = append(vcs, "commit "+rev[:7])
	}
	if ts := settings["vcs.time"]; ts != "" {
		vcs = append(vcs, ts)
	}
	if settings["vcs.modified"] == "true" {
		vcs = append(vcs, "modified")
	}
	if len(vcs) > 0 {
		want += " (" + strings.Join(vcs, ", ") + ")"
	}
	want += " " + strings.TrimSpace(string(goVersion)) + " " + settings["GOOS"] + "/" + settings["GOARCH"] + "\n"
	if stdout.String() != want {
		t.Errorf("wssd --version printed %q; want %q", stdout.String(), want)
	}
	if stderr.Len() > 0 {
		t.Errorf("wssd --version wrote to stderr: %q", stderr.String())
	}
}
