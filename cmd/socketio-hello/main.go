// Command socketio-hello is the smallest Socket.IO application on wssd's
// engine: the server half of the Socket.IO tutorial. A client that emits
// "message" with "Hello, world!" gets "message" with "Hello from the
// server!"; a line is logged when a user connects and when one
// disconnects.
//
//	go run ./cmd/socketio-hello --listen 127.0.0.1:3000
//
// serves https:// and wss:// with a development certificate made in
// --data-dir (the client trusts its CA: NODE_EXTRA_CA_CERTS=dev-ca.pem),
// so a tutorial client is pointed at https://localhost:3000.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/socketio"
	"github.com/wssd/wssd/security"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "`addr`ess (host:port) to serve https:// and wss:// on")
	dataDir := flag.String("data-dir", "wssd-data", "`dir`ectory of the development CA and certificate")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *dataDir, log); err != nil {
		log.Error("socketio-hello", "err", err)
		os.Exit(1)
	}
}

func run(listen, dataDir string, log *slog.Logger) error {
	io, err := socketio.New(socketio.Config{})
	if err != nil {
		return err
	}
	main := io.Of("/")
	main.OnConnection(func(so *socketio.Socket) {
		log.Info("a user connected", "id", so.ID(), "transport", so.Transport())
	})
	main.OnDisconnect(func(so *socketio.Socket, reason string) {
		log.Info("user disconnected", "id", so.ID(), "reason", reason)
	})
	main.On("message", func(so *socketio.Socket, _ string, args socketio.Args, _ socketio.Ack) {
		log.Info("message", "id", so.ID(), "text", args.String(0))
		if args.String(0) == "Hello, world!" {
			_ = so.Emit("message", "Hello from the server!")
		}
	})

	files, _, err := security.DevCertificates(dataDir, security.DefaultDevHosts)
	if err != nil {
		return err
	}
	cert, err := security.LoadCertificate(files.Cert, files.Key)
	if err != nil {
		return err
	}
	srv, err := engine.New(engine.Config{
		Listen: listen,
		TLS:    security.ServerTLS(cert, nil),
		Routes: map[string]engine.Handler{socketio.DefaultPath: io},
		Logger: log,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listening on https://%s%s (CA: %s)\n", srv.TLSAddr(), socketio.DefaultPath, files.CA)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), engine.DefaultDrainTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
