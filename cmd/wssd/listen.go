package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenCheck binds addr as the engine will (with SO_REUSEPORT if asked)
// and lets it go: a port that cannot be had is found before anything is
// written to --data-dir. The engine binds it again in Start.
func listenCheck(addr string, reusePort bool) error {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// bindHint says what to do about err, the error of listening on addr, which
// flag sets: another process has the port, or the port is a privileged one.
// It is empty for other errors.
func bindHint(err error, flag, addr string) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Sprintf("another process listens on %s (ss -ltnp shows which); stop it, or give %s another address", addr, flag)
	case errors.Is(err, syscall.EACCES) && privilegedPort(addr):
		return fmt.Sprintf("ports below 1024 need privilege: give the binary CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep PATH-TO-WSSD, "+
			"or AmbientCapabilities=CAP_NET_BIND_SERVICE in its systemd unit), or give %s a port of 1024 or more", flag)
	}
	return ""
}

// privilegedPort reports whether addr's port is below 1024 (and not 0).
func privilegedPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := net.LookupPort("tcp", port)
	return err == nil && n > 0 && n < 1024
}
