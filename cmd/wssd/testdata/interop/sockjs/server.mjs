// server.mjs: the SockJS reference server, npm's sockjs 0.3 (from ../node),
// on its default options unless a flag below says otherwise. The SockJS
// interop clients (client.mjs, browser.mjs) are checked against it, and
// wssd's answers can be compared with its own.
//
//   node server.mjs [--cert CERT.pem --key KEY.pem] [--host 127.0.0.1] [--port 0]
//                   [--prefix /sockjs] [--sockjs-url URL] [--token TOKEN]
//                   [--static PATH=FILE]...
//
// With --cert and --key it serves https://, else http://. Once listening it
// prints one line, `listening port=PORT scheme=https prefix=PREFIX`, on
// stdout; then sockjs's log, a line per request. SIGTERM exits 0.
//
// Two SockJS services, as wssd's --sockjs-path serves them:
//
//   PREFIX/echo  sends each message back, unchanged.
//   PREFIX/ws    wssd's /ws pub/sub protocol (README.md, "Pub/sub"), one JSON
//                text per SockJS message, as much of it as the clients use:
//                {"op":"subscribe"|"unsubscribe","topic":T,"id":ID} and
//                {"op":"publish","topic":T,"data":D,"id":ID}, answered
//                {"op":"ack","id":ID} (when there is an id) or
//                {"op":"error","id":ID,"code":C,"message":M} with the codes
//                invalid_topic and invalid_request; each subscriber of T gets
//                {"op":"message","topic":T,"data":D}, the publisher too if it
//                subscribed. Topics stay in this process.
//
// The other flags:
//
//   --prefix PATH     where the services are (default /sockjs)
//   --sockjs-url URL  the sockjs-client script iframe.html loads, for the
//                     iframe-* transports (default: sockjs's, a CDN)
//   --token TOKEN     a session must carry TOKEN: as the token query parameter
//                     of its URL (sockjs-client keeps a query on every
//                     request) or, without one, as its first message, which
//                     is then not the application's; else the session is
//                     closed with c[4001,"unauthorized"] (a token query
//                     parameter that is not TOKEN: at once)
//   --static PATH=FILE
//                     also serve FILE at PATH (outside PREFIX): a page of the
//                     server's own origin, for the transports that need one;
//                     repeatable
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const sockjs = require("sockjs");

function usage(msg) {
  if (msg) console.error(`server.mjs: ${msg}`);
  console.error(
    "usage: node server.mjs [--cert CERT --key KEY] [--host HOST] [--port PORT] [--prefix PATH] [--sockjs-url URL] [--token TOKEN] [--static PATH=FILE]...",
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
      prefix: { type: "string", default: "/sockjs" },
      "sockjs-url": { type: "string" },
      token: { type: "string" },
      static: { type: "string", multiple: true, default: [] },
    },
  }));
} catch (err) {
  usage(err.message);
}
if (Boolean(flags.cert) !== Boolean(flags.key)) usage("give both --cert and --key, or neither");
const port = Number(flags.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${flags.port}`);
if (!/^\/[^?#]*[^/]$/.test(flags.prefix)) usage(`bad --prefix ${flags.prefix}: want /PATH without a trailing slash`);

const statics = new Map();
for (const s of flags.static) {
  const [at, file] = s.split(/=(.*)/s);
  if (!at?.startsWith("/") || !file) usage(`bad --static ${s}: want /PATH=FILE`);
  statics.set(at, file);
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json" };

const httpServer = flags.cert
  ? https.createServer({ cert: fs.readFileSync(flags.cert), key: fs.readFileSync(flags.key) })
  : http.createServer();

// Requests the services do not take: the --static files, else 404.
httpServer.on("request", (req, res) => {
  const file = statics.get(new URL(req.url, "http://x").pathname);
  if (req.method !== "GET" || !file) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
    return;
  }
  fs.readFile(file, (err, body) => {
    if (err) {
      res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(`${err.message}\n`);
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream", "Content-Length": body.length });
    res.end(body);
  });
});

const options = { log: (severity, line) => console.log(`sockjs ${severity}: ${line}`) };
if (flags["sockjs-url"]) options.sockjs_url = flags["sockjs-url"];

// authorized calls ready(receive) once the connection has shown the token
// (at once without --token), where receive takes the application's
// messages; until then it takes the token, and closes the connection if it
// is wrong.
function authorized(conn, ready) {
  if (flags.token === undefined) {
    conn.on("data", ready(conn));
    return;
  }
  const refuse = () => conn.close(4001, "unauthorized");
  const query = new URL(conn.url, "http://x").searchParams;
  if (query.has("token")) {
    if (query.get("token") !== flags.token) {
      refuse();
      return;
    }
    conn.on("data", ready(conn));
    return;
  }
  let receive;
  conn.on("data", (msg) => {
    if (receive) {
      receive(msg);
    } else if (msg === flags.token) {
      receive = ready(conn);
    } else {
      refuse();
    }
  });
}

const echo = sockjs.createServer(options);
echo.on("connection", (conn) => {
  authorized(conn, (c) => (msg) => c.write(msg));
});

// The pub/sub service: subscribers by topic, in this process.
const TOPIC_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,15}$/;
const subscribers = new Map(); // topic -> Set of connections

const pubsub = sockjs.createServer(options);
pubsub.on("connection", (conn) => {
  const mine = new Set();
  const send = (obj) => conn.write(JSON.stringify(obj));
  const answer = (req, error) => {
    const id = req !== null && typeof req === "object" ? req.id : undefined;
    if (error) {
      send(id === undefined ? { op: "error", ...error } : { op: "error", id, ...error });
    } else if (id !== undefined) {
      send({ op: "ack", id });
    }
  };
  const handle = (msg) => {
    let req;
    try {
      req = JSON.parse(msg);
    } catch {
      answer(null, { code: "invalid_request", message: "not JSON" });
      return;
    }
    if (req === null || typeof req !== "object" || Array.isArray(req) || !["subscribe", "unsubscribe", "publish"].includes(req.op)) {
      answer(req, { code: "invalid_request", message: "want an object with op subscribe, unsubscribe or publish" });
      return;
    }
    if (typeof req.topic !== "string" || !TOPIC_RE.test(req.topic) || Buffer.byteLength(req.topic) > 128) {
      answer(req, {
        code: "invalid_topic",
        message: "a topic is 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most",
      });
      return;
    }
    switch (req.op) {
      case "subscribe": {
        let set = subscribers.get(req.topic);
        if (!set) subscribers.set(req.topic, (set = new Set()));
        set.add(conn);
        mine.add(req.topic);
        answer(req);
        break;
      }
      case "unsubscribe":
        subscribers.get(req.topic)?.delete(conn);
        mine.delete(req.topic);
        answer(req);
        break;
      case "publish": {
        if (!Object.hasOwn(req, "data")) {
          answer(req, { code: "invalid_request", message: "a publish needs data" });
          return;
        }
        answer(req);
        const out = JSON.stringify({ op: "message", topic: req.topic, data: req.data });
        for (const sub of subscribers.get(req.topic) ?? []) sub.write(out);
        break;
      }
    }
  };
  conn.on("close", () => {
    for (const topic of mine) subscribers.get(topic)?.delete(conn);
  });
  authorized(conn, () => handle);
});

echo.installHandlers(httpServer, { prefix: `${flags.prefix}/echo` });
pubsub.installHandlers(httpServer, { prefix: `${flags.prefix}/ws` });

process.once("SIGTERM", () => {
  console.log("SIGTERM: exiting");
  process.exit(0);
});

httpServer.on("error", (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});
httpServer.listen(port, flags.host, () => {
  console.log(`listening port=${httpServer.address().port} scheme=${flags.cert ? "https" : "http"} prefix=${flags.prefix}`);
});
