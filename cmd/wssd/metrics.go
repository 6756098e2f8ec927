package main

// metricHelp is the HELP text of each of wssd's metrics on the admin
// listener's /metrics: the one list of them in code. README.md's Metrics
// table says more of each; TestMetricsDocumented checks that this list,
// that table and the metrics the server registers are the same.
var metricHelp = map[string]string{
	"wssd_connections_accepted_total":     "TCP connections accepted, before the accept gates.",
	"wssd_connections_opened_total":       "Connections upgraded to WebSocket (101 sent).",
	"wssd_connections_closed_total":       "Upgraded connections that have ended.",
	"wssd_connections_active":             "Upgraded connections open now.",
	"wssd_tls_handshakes_total":           "TLS handshakes finished by the workers, by result.",
	"wssd_tls_handshake_duration_seconds": "TLS handshake time in a worker.",
	"wssd_tls_sessions_total":             "Connections that finished their TLS handshake, by version and by the record layer that carries them.",
	"wssd_tls_alerts_total":               "TLS 1.3 connections ended by a fatal alert, by alert and by who sent it.",
	"wssd_tls_queue_depth":                "Accepted wss:// sockets waiting for a TLS worker.",
	"wssd_upgrade_responses_total":        "HTTP answers to requests, by status; 101 is an upgrade.",
	"wssd_http_responses_total":           "Answers to plain HTTP requests on the routes of an HTTPHandler (Socket.IO polling), by status.",
	"wssd_upgrade_duration_seconds":       "Time from a socket reaching its event loop (after TLS) to its 101.",
	"wssd_messages_received_total":        "Data messages received.",
	"wssd_messages_sent_total":            "Data messages sent.",
	"wssd_messages_received_bytes_total":  "Payload bytes of the data messages received.",
	"wssd_messages_sent_bytes_total":      "Payload bytes of the data messages sent.",
	"wssd_deflate_connections_total":      "Connections that negotiated permessage-deflate.",
	"wssd_deflate_messages_total":         "Messages that went compressed, by direction.",
	"wssd_deflate_bytes_total":            "Payload bytes of compressed messages, by direction, compressed and inflated.",
	"wssd_deflate_compressions_total":     "Times a message was compressed, whether or not it then went compressed.",
	"wssd_close_frames_received_total":    "Close frames received, by code.",
	"wssd_close_frames_sent_total":        "Close frames sent, by code.",
	"wssd_refusals_total":                 "Connections and messages refused by a gate, by reason.",
	"wssd_deadline_expiries_total":        "Deadlines that fired, by kind.",
	"wssd_outbound_queued_bytes":          "Bytes waiting to be written to clients that read slower than they are sent to.",
	"wssd_outbound_queued_connections":    "Connections with bytes waiting to be written.",
	"wssd_reassembly_bytes":               "Bytes held for partial messages, against --reassembly-budget.",
	"wssd_pubsub_published_total":         "Publications received, from clients and from Hub.Publish.",
	"wssd_pubsub_delivered_total":         "Messages written to subscribers.",
	"wssd_pubsub_topics":                  "Topics with subscribers in this process.",
	"wssd_pubsub_fanout_seconds":          "Time an event loop takes to write one publication to all its subscribers to the topic.",
	"wssd_socketio_sessions":              "Engine.IO sessions open.",
	"wssd_socketio_sessions_opened_total": "Engine.IO sessions opened, by first transport.",
	"wssd_socketio_sessions_closed_total": "Engine.IO sessions ended.",
	"wssd_socketio_upgrades_total":        "Polling sessions upgraded to WebSocket.",
	"wssd_socketio_events_total":          "Socket.IO events received and sent, by direction.",
	"wssd_socketio_polls_total":           "Polling responses that carried packets.",
	"wssd_socketio_refusals_total":        "Socket.IO sessions and packets refused, by reason.",
	"wssd_broker_connected":               "1 while the NATS connection is up.",
	"wssd_broker_disconnects_total":       "Times the NATS connection dropped.",
	"wssd_broker_reconnects_total":        "Times the NATS connection came back.",
	"wssd_broker_dropped_total":           "Times NATS dropped messages for this process because it fell behind its subscriptions.",
	"wssd_loop_lag_seconds":               "How late the task posted to each event loop every tick runs.",
}

// metricHelpText returns the HELP text of a metric family, for
// engine.AdminOptions.Help.
func metricHelpText(family string) string { return metricHelp[family] }
