package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/adminapi"
	"github.com/wssd/wssd/engine/pubsub"
)

// adminHandler is what the admin listener serves: the engine's endpoints
// and, with --admin-key-file, the server API under /api/v1/. Without the
// key the API's paths are 404, as any other unknown path.
func adminHandler(srv *engine.Server, o options, log *slog.Logger) (http.Handler, error) {
	h := srv.AdminHandler(engine.AdminOptions{Pprof: o.pprof, Help: metricHelpText})
	if o.adminKeyFile == "" {
		return h, nil
	}
	key, err := os.ReadFile(o.adminKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--admin-key-file: %w", err)
	}
	key = bytes.TrimSpace(key)
	if len(key) < adminapi.MinKeyLen {
		// Its length only: the key itself is never logged.
		return nil, fmt.Errorf("--admin-key-file %s: the key is %d bytes, trimmed; it must be at least %d (e.g. openssl rand -base64 48)",
			o.adminKeyFile, len(key), adminapi.MinKeyLen)
	}
	hub, _ := srv.Config().Routes[pubsub.DefaultRoute].(*pubsub.Hub)
	api, err := adminapi.New(adminapi.Config{
		Key:     key,
		Server:  srv,
		Hub:     hub,
		MaxBody: o.maxMessageSize,
		Logger:  log,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(adminapi.Prefix, api)
	mux.Handle("/", h)
	return mux, nil
}
