// Command wssd is the WebSocket server. It reads its flags, builds an
// engine.Config and runs the engine until SIGINT or SIGTERM, then drains.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/wssd/wssd/engine"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the command line's settings.
type options struct {
	listenPlain    string
	loops          int
	maxMessageSize int64
	drainTimeout   time.Duration
	closeTimeout   time.Duration
	logLevel       slog.Level
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("wssd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listenPlain, "listen-plain", ":8080", "`addr`ess (host:port) of the plain ws:// listener")
	fs.IntVar(&o.loops, "loops", 0, "number of event loops (0: one per CPU)")
	fs.Int64Var(&o.maxMessageSize, "max-message-size", engine.DefaultMaxMessageSize, "largest message accepted, in `bytes`; larger ones are refused with close code 1009")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", engine.DefaultDrainTimeout, "on SIGINT/SIGTERM, how long to wait for clients to finish the close handshake")
	fs.DurationVar(&o.closeTimeout, "close-timeout", engine.DefaultCloseTimeout, "how long a closing connection has to answer the close frame and take what is queued for it")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wssd [flags]\n\nwssd serves WebSocket connections; /echo echoes every message.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.maxMessageSize <= 0 || o.loops < 0 || o.drainTimeout < 0 || o.closeTimeout <= 0 {
		return o, errors.New("--max-message-size and --close-timeout must be positive, --loops and --drain-timeout not negative")
	}
	return o, nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "wssd:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))

	srv, err := engine.New(engine.Config{
		ListenPlain:    o.listenPlain,
		Loops:          o.loops,
		MaxMessageSize: o.maxMessageSize,
		CloseTimeout:   o.closeTimeout,
		Routes:         map[string]engine.Handler{"/echo": engine.Echo{}},
		Logger:         log,
	})
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	// Subscribe before listening, so a signal sent as soon as the port is
	// open is a drain and not the default exit.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)

	if err := srv.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("listening", "ws", "ws://"+displayAddr(srv.PlainAddr())+"/echo")

	select {
	case <-srv.Done():
		log.Error("server stopped", "err", srv.Err())
		return 1
	case s := <-sig:
		log.Info("draining", "signal", s.String(), "connections", srv.Active(), "timeout", o.drainTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("drain timed out; remaining connections closed", "err", err)
	}
	log.Info("stopped")
	return 0
}

// displayAddr is addr as a person would type it: localhost for a listener
// on every interface.
func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}
