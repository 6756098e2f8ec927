// server.mjs: the Socket.IO reference server, npm's socket.io (from
// ../node) on its default options unless a flag below says otherwise. The
// Socket.IO interop clients are checked against it, and wssd's answers can
// be compared with its own.
//
//   node server.mjs [--cert CERT.pem --key KEY.pem] [--host 127.0.0.1] [--port 0]
//                   [--app conformance|tutorial|pubsub] [--conformance]
//                   [--cors ORIGIN]... [--allowed-origin ORIGIN]... [--token TOKEN]
//
// With --cert and --key it serves https://, else http://. Once listening it
// prints one line, `listening port=PORT scheme=https app=APP`, on stdout.
// SIGTERM closes every connection and the server, then exits 0.
//
// The apps (--app, conformance by default):
//
//   conformance  the reference behaviour of CONFORMANCE.md ("Engine.IO v4 and
//                Socket.IO v5"), plus a server-initiated acknowledgement:
//                - on connection to "/": emit `auth` with the handshake's auth
//                  object ({} when the client sent none);
//                - `message` (any arguments): emit `message-back` with the
//                  same arguments;
//                - `message-with-ack` (arguments, ack): ack with the same
//                  arguments;
//                - `ping-me` (arguments): emit `ask` with the same arguments
//                  and an ack callback; when the client acks with some
//                  arguments, emit `ask-result` with those arguments;
//                - namespace "/custom": on connection emit `auth` only;
//                - any other namespace: refused, "Invalid namespace".
//   tutorial     Socket.IO's "get started" server: logs "a user connected"
//                and "user disconnected", and answers the `message`
//                "Hello, world!" with a `message` "Hello from the server!".
//   pubsub       topics on Socket.IO rooms: `subscribe` ({topic}, ack) joins
//                the topic's room and acks null; `publish` ({topic, data},
//                ack) emits `message` {topic, data} to the room (the publisher
//                too, if subscribed) and acks null; a request without a
//                non-empty string topic is acked {code, message}.
//
// The other flags:
//
//   --conformance     pingInterval 300 ms, pingTimeout 200 ms, maxPayload
//                     (maxHttpBufferSize) 1,000,000, connectTimeout 1000 ms
//   --cors ORIGIN     answer CORS requests from ORIGIN (a page served
//                     elsewhere that polls this server); repeatable
//   --allowed-origin ORIGIN
//                     refuse a request whose Origin header is present and
//                     not one of these (engine.io answers a poll 403, a
//                     websocket upgrade 400); repeatable
//   --token TOKEN     refuse a connection to "/" or "/custom" whose auth's
//                     token is not TOKEN: connect_error "invalid token"
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { Server } = require("socket.io");

function usage(msg) {
  if (msg) console.error(`server.mjs: ${msg}`);
  console.error(
    "usage: node server.mjs [--cert CERT --key KEY] [--host HOST] [--port PORT] [--app conformance|tutorial|pubsub] [--conformance] [--cors ORIGIN]... [--allowed-origin ORIGIN]... [--token TOKEN]",
  );
  process.exit(2);
}

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      app: { type: "string", default: "conformance" },
      conformance: { type: "boolean", default: false },
      cors: { type: "string", multiple: true, default: [] },
      "allowed-origin": { type: "string", multiple: true, default: [] },
      token: { type: "string" },
    },
  }));
} catch (err) {
  usage(err.message);
}
if (Boolean(flags.cert) !== Boolean(flags.key)) usage("give both --cert and --key, or neither");
const port = Number(flags.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${flags.port}`);

const httpServer = flags.cert
  ? https.createServer({ cert: fs.readFileSync(flags.cert), key: fs.readFileSync(flags.key) })
  : http.createServer();

const options = {};
if (flags.conformance) {
  Object.assign(options, { pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 1e6, connectTimeout: 1000 });
}
if (flags.cors.length > 0) options.cors = { origin: flags.cors };
if (flags["allowed-origin"].length > 0) {
  const allowed = new Set(flags["allowed-origin"]);
  options.allowRequest = (req, callback) => {
    const origin = req.headers.origin;
    callback(null, origin === undefined || allowed.has(origin));
  };
}
const io = new Server(httpServer, options);

if (flags.token !== undefined) {
  const check = (socket, next) => {
    next(socket.handshake.auth?.token === flags.token ? undefined : new Error("invalid token"));
  };
  io.use(check);
  io.of("/custom").use(check);
}

const apps = {
  conformance() {
    io.on("connection", (socket) => {
      socket.emit("auth", socket.handshake.auth);
      socket.on("message", (...args) => socket.emit("message-back", ...args));
      socket.on("message-with-ack", (...args) => {
        const ack = args.pop();
        if (typeof ack === "function") ack(...args);
      });
      socket.on("ping-me", (...args) => {
        socket.emit("ask", ...args, (...reply) => socket.emit("ask-result", ...reply));
      });
    });
    io.of("/custom").on("connection", (socket) => socket.emit("auth", socket.handshake.auth));
  },

  tutorial() {
    io.on("connection", (socket) => {
      console.log("a user connected");
      socket.on("message", (msg) => {
        console.log(`message: ${JSON.stringify(msg)}`);
        if (msg === "Hello, world!") socket.emit("message", "Hello from the server!");
      });
      socket.on("disconnect", () => console.log("user disconnected"));
    });
  },

  pubsub() {
    const room = (topic) => `topic:${topic}`;
    const badTopic = (req) =>
      typeof req?.topic === "string" && req.topic !== ""
        ? null
        : { code: "bad_request", message: "want an object with a non-empty string topic" };
    io.on("connection", (socket) => {
      socket.on("subscribe", (req, ack) => {
        const err = badTopic(req);
        if (!err) socket.join(room(req.topic));
        if (typeof ack === "function") ack(err);
      });
      socket.on("publish", (req, ack) => {
        const err = badTopic(req);
        if (!err) io.to(room(req.topic)).emit("message", { topic: req.topic, data: req.data ?? null });
        if (typeof ack === "function") ack(err);
      });
    });
  },
};

if (!Object.hasOwn(apps, flags.app)) usage(`unknown --app ${flags.app}`);
apps[flags.app]();

process.once("SIGTERM", () => {
  console.log("SIGTERM: closing");
  // Ends every Engine.IO session (no Socket.IO DISCONNECT packet: clients
  // see the transport close, and reconnect), then the listener.
  io.close((err) => {
    if (err) console.error(`close: ${err.message}`);
    console.log("closed");
    process.exit(err ? 1 : 0);
  });
});

httpServer.on("error", (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});
httpServer.listen(port, flags.host, () => {
  console.log(`listening port=${httpServer.address().port} scheme=${flags.cert ? "https" : "http"} app=${flags.app}`);
});
