package main

import (
	"bytes"
	"flag"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// helpEntries splits a --help text into what comes before the flags and
// each flag's entry, by name.
func helpEntries(t *testing.T, help string) (intro string, entries map[string]string) {
	t.Helper()
	parts := strings.Split(help, "\n  -")
	entries = map[string]string{}
	name := regexp.MustCompile(`^[a-z0-9-]+`)
	for _, p := range parts[1:] {
		n := name.FindString(p)
		if _, dup := entries[n]; dup {
			t.Errorf("-%s is listed twice", n)
		}
		entries[n] = p
	}
	return parts[0], entries
}

// TestHelp: "wssbench --help" and "wssbench SCENARIO --help" list the
// scenarios and every flag but the internal -shard, exit 0, and say each
// default once.
func TestHelp(t *testing.T) {
	var o options
	var raw rawArgs
	var registered []string
	newFlagSet("wssbench", &o, &raw, io.Discard).VisitAll(func(f *flag.Flag) { registered = append(registered, f.Name) })

	for _, args := range [][]string{{"--help"}, {"-h"}, {"echo", "--help"}, {"pubsub", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Errorf("%q: exit %d; want 0\n%s", args, code, stderr.String())
		}
		intro, entries := helpEntries(t, stderr.String())
		for _, s := range []string{"connect", "echo", "handshake", "churn", "pubsub", "socketio"} {
			if !regexp.MustCompile(`(?m)^  ` + s + ` `).MatchString(intro) {
				t.Errorf("%q: scenario %s is not listed:\n%s", args, s, intro)
			}
		}
		for _, name := range registered {
			if _, listed := entries[name]; listed == hiddenFlags[name] {
				t.Errorf("%q: -%s listed %v; want %v", args, name, listed, !hiddenFlags[name])
			}
		}
		if len(entries) != len(registered)-len(hiddenFlags) {
			t.Errorf("%q: %d flags listed; want %d", args, len(entries), len(registered)-len(hiddenFlags))
		}
		if strings.Contains(intro, "(default") {
			t.Errorf("%q: the scenarios' text says a default, which the flags say:\n%s", args, intro)
		}
		for name, e := range entries {
			if n := strings.Count(e, "(default"); n > 1 {
				t.Errorf("%q: -%s says its default %d times:\n  -%s", args, name, n, e)
			}
		}
		if e := entries["size"]; !strings.Contains(e, "(default 32; pubsub 128)") || strings.Count(e, "128") != 1 {
			t.Errorf("%q: -size entry:\n  -%s", args, e)
		}
	}

	// Without a scenario: the same help, and a bad command line.
	var stderr bytes.Buffer
	if code := run(nil, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "  -conns int") ||
		!strings.Contains(stderr.String(), "give a scenario") {
		t.Errorf("no arguments: exit %d; want 2, the help and the reason\n%s", code, stderr.String())
	}
	// -shard is still understood.
	if o, err := parseArgs([]string{"echo", "--shard", "1", "--procs", "2"}, io.Discard); err != nil || o.shard != 1 {
		t.Errorf("--shard 1: shard %d, %v", o.shard, err)
	}
}

// TestBinaryVersion: the built wssbench's --version names it and the Go
// version and platform it was built with, and exits 0.
func TestBinaryVersion(t *testing.T) {
	bin := buildWssbench(t)
	goVersion, err := exec.Command("go", "env", "GOVERSION", "GOOS", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Fields(string(goVersion))
	for _, arg := range []string{"--version", "-version"} {
		cmd := exec.Command(bin, arg)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("wssbench %s: %v\n%s", arg, err, stderr.String())
		}
		re := regexp.MustCompile(`^wssbench (\(devel\)|v\S+)( \(commit [0-9a-f]{7}, \S+Z(, modified)?\))? ` +
			regexp.QuoteMeta(env[0]+" "+env[1]+"/"+env[2]) + "\n$")
		if !re.MatchString(stdout.String()) {
			t.Errorf("wssbench %s printed %q; want a match of %v", arg, stdout.String(), re)
		}
	}
}
