package main

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestBindHint: the hints for a port in use and for a privileged port,
// on errors as net.Listen returns them; none for other errors.
func TestBindHint(t *testing.T) {
	listenErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", errno)}
	}
	for _, tc := range []struct {
		err         error
		addr        string
		want, want2 string // in the hint; empty: no hint
	}{
		{listenErr(syscall.EADDRINUSE), ":8443", "another process listens on :8443", "give --listen another address"},
		{listenErr(syscall.EACCES), ":443", "CAP_NET_BIND_SERVICE", "setcap cap_net_bind_service=+ep"},
		{listenErr(syscall.EACCES), "127.0.0.1:https", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "give --listen a port of 1024 or more"},
		{listenErr(syscall.EACCES), ":8443", "", ""},
		{listenErr(syscall.EADDRNOTAVAIL), "10.9.9.9:8443", "", ""},
		{errors.New("something else"), ":80", "", ""},
	} {
		hint := bindHint(tc.err, "--listen", tc.addr)
		if tc.want == "" {
			if hint != "" {
				t.Errorf("%v on %s: hint %q; want none", tc.err, tc.addr, hint)
			}
			continue
		}
		if !strings.Contains(hint, tc.want) || !strings.Contains(hint, tc.want2) {
			t.Errorf("%v on %s: hint %q; want %q and %q in it", tc.err, tc.addr, hint, tc.want, tc.want2)
		}
	}
}
