package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

// disconnectWait bounds how long a disconnect waits for the event loops'
// counts.
const disconnectWait = 5 * time.Second

// maxReason is the most bytes of reason a close frame carries.
const maxReason = 123

// publishRequest is the body of POST publish.
type publishRequest struct {
	Topic string          `json:"topic"`
	Data  json.RawMessage `json:"data"`
}

// publish publishes data to topic, as a /ws client's publish does:
// through the hub, and so through its broker to the other processes.
func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !security.ValidTopic(req.Topic) {
		writeError(w, http.StatusBadRequest, "invalid_topic", "a topic is 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most")
		return
	}
	if req.Data == nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "a publish needs data")
		return
	}
	var data bytes.Buffer
	if err := json.Compact(&data, req.Data); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", err.Error()) // unreachable: decode checked it
		return
	}
	switch err := a.cfg.Hub.Publish(req.Topic, data.Bytes()); {
	case errors.Is(err, pubsub.ErrBroker):
		writeError(w, http.StatusServiceUnavailable, "broker_unavailable", "the message broker is not available")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_topic", err.Error())
		return
	}
	a.cfg.Logger.Info("api publish", "topic", req.Topic, "bytes", data.Len())
	writeJSON(w, http.StatusOK, map[string]any{"published": true, "topic": req.Topic})
}

// disconnectRequest is the body of POST disconnect.
type disconnectRequest struct {
	Subject string `json:"subject"`
	Code    *int   `json:"code"`
	Reason  string `json:"reason"`
}

// disconnect closes the subject's connections in this process.
func (a *API) disconnect(w http.ResponseWriter, r *http.Request) {
	var req disconnectRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.Subject == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "a disconnect needs a subject")
		return
	}
	code := codec.StatusPolicyViolation
	if req.Code != nil {
		if !closeCode(*req.Code) {
			writeError(w, http.StatusBadRequest, "invalid_code", "a close code is 1000, 1001, 1008 or 4000 to 4999")
			return
		}
		code = codec.StatusCode(*req.Code)
	}
	if len(req.Reason) > maxReason {
		writeError(w, http.StatusBadRequest, "invalid_request", "a reason is at most 123 bytes")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), disconnectWait)
	defer cancel()
	n, err := a.cfg.Server.CloseSubject(ctx, req.Subject, code, req.Reason)
	a.cfg.Logger.Info("api disconnect", "subject", req.Subject, "code", int(code), "connections", n)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "incomplete",
			"not every event loop answered in time; the connections found so far are closing, and the others will be when their loop gets to it")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"disconnected": n})
}

// closeCode reports whether a disconnect may close with code: the codes
// that say the server ended the connection, and the applications' range.
func closeCode(code int) bool {
	switch code {
	case 1000, 1001, 1008:
		return true
	}
	return code >= 4000 && code <= 4999
}

// stats is the body of GET stats.
type stats struct {
	Connections struct {
		WS      int64 `json:"ws"`
		WSS     int64 `json:"wss"`
		Sockets int64 `json:"sockets"`
	} `json:"connections"`
	Topics int `json:"topics"`
	Loops  int `json:"loops"`
	Memory struct {
		Reassembly    int64 `json:"reassembly_bytes"`
		Outbound      int64 `json:"outbound_bytes"`
		OutboundConns int64 `json:"outbound_connections"`
	} `json:"memory"`
}

// stats answers the counts of this process.
func (a *API) stats(w http.ResponseWriter, _ *http.Request) {
	srv := a.cfg.Server
	var st stats
	c := srv.Connections()
	st.Connections.WS, st.Connections.WSS, st.Connections.Sockets = c.WS, c.WSS, c.Sockets
	if a.cfg.Hub != nil {
		st.Topics = a.cfg.Hub.Topics()
	}
	st.Loops = srv.Loops()
	m := srv.Memory()
	st.Memory.Reassembly, st.Memory.Outbound, st.Memory.OutboundConns = m.Reassembly, m.Outbound, m.OutboundConns
	writeJSON(w, http.StatusOK, st)
}

// decode reads r's body, at most Config.MaxBody bytes, into v: one JSON
// object of v's form, in UTF-8, with no member v does not have and
// nothing after it. It answers 400 or 413 and returns false if not.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength > a.cfg.MaxBody {
		writeTooLarge(w, a.cfg.MaxBody)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeTooLarge(w, a.cfg.MaxBody)
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return false
	}
	if !utf8.Valid(body) {
		// Data that is not UTF-8 would fail every subscriber's
		// connection (1007): encoding/json lets it through.
		writeError(w, http.StatusBadRequest, "invalid_json", "the body is not UTF-8")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body is not a JSON object of this call's form: "+err.Error())
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value")
		return false
	}
	return true
}

func writeTooLarge(w http.ResponseWriter, limit int64) {
	writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is over "+itoa(limit)+" bytes")
}
