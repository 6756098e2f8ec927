// client.mjs: npm's sockjs-client (Node, from ../node) against a SockJS 0.3
// server over https://, on one transport, trusting the CA given in
// NODE_EXTRA_CA_CERTS: sockjs-client has no CA option (its requests go
// through Node's https and faye-websocket), so the CA comes in through the
// environment, and the first check makes sure it is what the server's
// certificate chains to.
//
//   NODE_EXTRA_CA_CERTS=CA.pem node client.mjs --url https://localhost:PORT/sockjs
//       --transport websocket|xhr-streaming|xhr-polling|eventsource
//       --app echo|pubsub|refused [--ws-url wss://localhost:PORT/ws]
//       [--token T [--token-in query|message]] [--timeout S]
//
// --url is where the server's SockJS services are: URL/echo sends each
// message back, URL/ws speaks wssd's /ws pub/sub protocol (README.md,
// "Pub/sub"), one JSON text per SockJS message. These four transports are
// the ones sockjs-client 1.6.1 offers in Node; the others need a browser
// (jsonp-polling and htmlfile a document, the iframe-* ones postMessage,
// the xdr-* ones Internet Explorer). The session is opened with only
// --transport allowed, and sock.transport must then be that transport.
//
// The checks, in order:
//
//   - the server's certificate does not verify against Node's bundled roots
//     alone, and does with NODE_EXTRA_CA_CERTS added (so the CA is what
//     makes it trusted);
//   - GET URL/SERVICE/info answers 200 with the info object: websocket and
//     cookie_needed booleans, origins an array, entropy a number (websocket
//     true if --transport is websocket);
//   - the session opens on --transport (within 10 s: sockjs-client's own
//     limit, worked out from the RTT of /info, can be under a second);
//   - --app echo: messages of many kinds, sent at once without waiting (so
//     many are in flight): empty, short, multi-byte UTF-8 (2, 3 and 4 bytes
//     a character), every character JSON must escape (quotes, backslash,
//     U+0000 to U+001F), U+2028 and U+2029 and the other characters SockJS
//     escapes, "%" sequences (the eventsource transport percent-decodes
//     what it gets), "</script>", text that is itself JSON, sizes from 1
//     byte to 60 KiB (over 128 KiB in all, past sockjs's default response
//     limit for the streaming transports), and 500 small numbered ones.
//     Every one must come back once, unchanged and in order;
//   - --app pubsub: on URL/ws, subscribe to a topic of its own (acked),
//     publish {…} to it: the ack, and the message back; a publish to an
//     invalid topic: the error invalid_topic; with --ws-url, a plain
//     WebSocket client (npm ws) on the server's /ws route publishes to the
//     topic, and the SockJS subscriber must get it; unsubscribe (acked),
//     after which nothing more comes for the topic while a publish to it
//     and a round trip on a second topic are done. No other message may
//     arrive;
//   - --app refused: on URL/echo, a session the server must refuse (a
//     wrong --token): either it never opens (a request refused: the close
//     is sockjs-client's, 1002 or 2000), or it opens and, once the client
//     has sent a message, the server closes it; no message may arrive
//     either way. Prints `closed CODE REASON`;
//   - the client closes the session (code 1000).
//
// Options:
//   --token T          authenticate with T: as the token query parameter of
//                      the SockJS URL, which sockjs-client keeps on every
//                      request (--token-in query, the default), or as the
//                      session's first message (--token-in message); the
//                      --ws-url client sends it as Authorization: Bearer T
//   --timeout S        the overall timeout in seconds (default 30)
//
// Prints a line per check, then the result as a JSON object on the last
// line; exits 0 when every check passes, 1 with the failed check and the
// reason otherwise, and 1 at the overall timeout at the latest: it never
// hangs. 2 for bad usage.
import { randomBytes } from "node:crypto";
import https from "node:https";
import { createRequire } from "node:module";
import tls from "node:tls";
import { isDeepStrictEqual, parseArgs } from "node:util";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const SockJS = require("sockjs-client");
const WebSocket = require("ws");

const TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"];
const APPS = ["echo", "pubsub", "refused"];
const TRANSPORT_TIMEOUT_MS = 10_000;

function usage(msg) {
  if (msg) console.error(`client.mjs: ${msg}`);
  console.error(
    `usage: NODE_EXTRA_CA_CERTS=CA.pem node client.mjs --url https://HOST:PORT/sockjs --transport ${TRANSPORTS.join("|")} --app ${APPS.join("|")} [--ws-url wss://HOST:PORT/ws] [--token T [--token-in query|message]] [--timeout S]`,
  );
  process.exit(2);
}

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      url: { type: "string" },
      transport: { type: "string" },
      app: { type: "string" },
      "ws-url": { type: "string" },
      token: { type: "string" },
      "token-in": { type: "string", default: "query" },
      timeout: { type: "string", default: "30" },
    },
  }));
} catch (err) {
  usage(err.message);
}
if (!flags.url || !/^https?:\/\/[^?#]+[^/?#]$/.test(flags.url)) usage("--url must be http(s)://HOST:PORT/PATH, without a query or a trailing slash");
if (!TRANSPORTS.includes(flags.transport)) usage(`--transport must be one of ${TRANSPORTS.join(", ")}`);
if (!APPS.includes(flags.app)) usage(`--app must be one of ${APPS.join(", ")}`);
if (!["query", "message"].includes(flags["token-in"])) usage("--token-in must be query or message");
const timeoutS = Number(flags.timeout);
if (!(timeoutS > 0)) usage(`bad --timeout ${flags.timeout}`);

class Mismatch extends Error {}

let current = "start";
const began = Date.now();

function fail(msg) {
  console.error(`FAIL sockjs-client ${flags.transport} ${flags.app}: ${current}: ${msg}`);
  process.exit(1);
}

setTimeout(() => fail(`timed out after ${timeoutS} s`), timeoutS * 1000);

async function check(name, fn) {
  current = name;
  const r = await fn();
  console.log(`ok   ${name}`);
  return r;
}

// serviceURL is the SockJS URL of a service, with the token in the query
// if it goes there.
function serviceURL(service) {
  const u = new URL(`${flags.url}/${service}`);
  if (flags.token !== undefined && flags["token-in"] === "query") u.searchParams.set("token", flags.token);
  return u.href;
}

// get fetches url with https.get's options and resolves with {status,
// headers, body}.
function get(url, options = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent: false, ...options }, (res) => {
      res.setEncoding("utf8");
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

function infoURL(service) {
  const u = new URL(serviceURL(service));
  u.pathname += "/info";
  return u.href;
}

const CERT_ERRORS = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);

async function checkTrust(service) {
  if (!flags.url.startsWith("https:")) return;
  await check("the certificate chains to NODE_EXTRA_CA_CERTS, not to Node's bundled roots", async () => {
    if (!process.env.NODE_EXTRA_CA_CERTS) throw new Mismatch("NODE_EXTRA_CA_CERTS is not set: give it the server's CA");
    try {
      await get(infoURL(service), { ca: tls.rootCertificates });
    } catch (err) {
      if (CERT_ERRORS.has(err.code)) return;
      throw new Mismatch(`with Node's bundled roots only: ${err.code ?? ""} ${err.message}; want a certificate verification error`);
    }
    throw new Mismatch("the server's certificate verifies against Node's bundled roots alone: is it the test's?");
  });
}

async function checkInfo(service) {
  await check(`GET ${new URL(infoURL(service)).pathname}: 200, the info object`, async () => {
    let r;
    try {
      r = await get(infoURL(service));
    } catch (err) {
      throw new Mismatch(`${err.code ?? ""} ${err.message}`);
    }
    if (r.status !== 200) throw new Mismatch(`status ${r.status}; want 200: ${r.body.slice(0, 200)}`);
    let info;
    try {
      info = JSON.parse(r.body);
    } catch (err) {
      throw new Mismatch(`body ${JSON.stringify(r.body.slice(0, 200))} is not JSON: ${err.message}`);
    }
    const types = { websocket: "boolean", cookie_needed: "boolean", entropy: "number" };
    for (const [k, type] of Object.entries(types)) {
      if (typeof info?.[k] !== type) throw new Mismatch(`${k} is ${JSON.stringify(info?.[k])}; want a ${type}: ${r.body}`);
    }
    if (!Array.isArray(info.origins)) throw new Mismatch(`origins is ${JSON.stringify(info.origins)}; want an array: ${r.body}`);
    if (flags.transport === "websocket" && !info.websocket) throw new Mismatch(`websocket false: the client would not try the websocket transport: ${r.body}`);
  });
}

// A Session is a SockJS connection on --transport whose messages are kept
// until taken.
class Session {
  messages = [];
  #waiters = [];
  closedWith = null; // {code, reason, wasClean} once closed

  constructor(service) {
    this.url = serviceURL(service);
    // timeout: sockjs-client's own, from the RTT of /info times the
    // transport's round trips (0.3 s to 1.2 s here), gives up on a transport
    // that a busy machine opens a little late.
    this.sock = new SockJS(this.url, null, { transports: [flags.transport], timeout: TRANSPORT_TIMEOUT_MS });
    this.opened = new Promise((resolve, reject) => {
      this.sock.onopen = resolve;
      this.#rejectOpen = reject;
    });
    this.sock.onmessage = (e) => {
      this.messages.push(e.data);
      this.#wake();
    };
    this.closed = new Promise((resolve) => {
      this.sock.onclose = (e) => {
        this.closedWith = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        this.#rejectOpen(new Mismatch(`closed before opening: ${e.code} ${JSON.stringify(e.reason)}`));
        this.#wake();
        resolve(this.closedWith);
      };
    });
  }

  #rejectOpen;

  #wake() {
    for (const w of this.#waiters.splice(0)) w();
  }

  // until resolves once cond() returns a value other than undefined, with
  // that value; it rejects if the session closes first.
  async until(cond, what) {
    for (;;) {
      const v = cond();
      if (v !== undefined) return v;
      if (this.closedWith) {
        throw new Mismatch(`the session closed (${this.closedWith.code} ${JSON.stringify(this.closedWith.reason)}) while waiting for ${what}`);
      }
      await new Promise((resolve) => this.#waiters.push(resolve));
    }
  }

  send(msg) {
    this.sock.send(msg);
  }
}

async function open(service) {
  const s = new Session(service);
  await check(`open ${new URL(s.url).pathname} on ${flags.transport}`, async () => {
    await s.opened;
    if (s.sock.transport !== flags.transport) throw new Mismatch(`sock.transport is ${s.sock.transport}; want ${flags.transport}`);
    if (flags.token !== undefined && flags["token-in"] === "message") s.send(flags.token);
  });
  return s;
}

async function closeSession(s) {
  await check("close the session: 1000", async () => {
    s.sock.close();
    const c = await s.closed;
    if (c.code !== 1000) throw new Mismatch(`closed ${c.code} ${JSON.stringify(c.reason)}; want 1000`);
  });
}

// pattern returns n characters of ASCII that differ with seed.
function pattern(n, seed) {
  return randomBytes(Math.ceil((n * 3) / 4) + 3).toString("base64").slice(0, n).replace(/^./, String.fromCharCode(65 + (seed % 26)));
}

function echoMessages() {
  let controls = "";
  for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
  const msgs = [
    "",
    "hello",
    "h\u00e9llo w\u00f6rld \u2713 \u2014 \u65e5\u672c\u8a9e \u{1F680}\u{1F600}",
    `"quotes" and \\backslashes\\ and /slashes/ and 'apostrophes'`,
    `controls:${controls}:\u007f:end`,
    "line\u2028separator\u2029paragraph",
    // The eventsource transport percent-decodes what it receives.
    "100% %41 %25 %E2%9C%93 %zz %",
    "</script><script>throw 1</script>",
    // The ones SockJS escapes besides (sockjs-client's and sockjs's lists).
    "a\u0300b\u0345c\u200cd\u200fe\u2060f\ufeffg\ufff0h\ufffei\uffffj",
    '{"op":"subscribe","topic":"not.a.request","id":1}',
    '["a",1,null]',
    "[]",
    " ",
    "\\u0041 is not A",
  ];
  for (const n of [1, 2, 125, 126, 127, 1000, 4096, 10000, 32768]) msgs.push(pattern(n, n));
  msgs.push(pattern(60 * 1024, 7));
  msgs.push("\u2713".repeat(20000)); // 60,000 bytes of UTF-8
  msgs.push("\u{1F680}".repeat(3000)); // 12,000 bytes, 3,000 surrogate pairs
  for (let i = 0; i < 500; i++) msgs.push(`#${i} ${"\u00b7".repeat(i % 50)}`);
  return msgs;
}

async function echoApp() {
  const s = await open("echo");
  const sent = echoMessages();
  const bytes = sent.reduce((n, m) => n + Buffer.byteLength(m), 0);
  await check(`echo: ${sent.length} messages, ${bytes} bytes, all in flight at once, back unchanged and in order`, async () => {
    for (const m of sent) s.send(m);
    await s.until(() => (s.messages.length >= sent.length ? true : undefined), `${sent.length} echoes (${s.messages.length} so far)`);
    for (let i = 0; i < sent.length; i++) {
      const got = s.messages[i], want = sent[i];
      if (got === want) continue;
      if (typeof got !== "string") throw new Mismatch(`echo ${i}: got ${typeof got}; want a string of ${want.length} characters`);
      let at = 0;
      while (at < got.length && got[at] === want[at]) at++;
      throw new Mismatch(
        `echo ${i}: ${got.length} characters; want ${want.length}; first difference at ${at}: got ${JSON.stringify(got.slice(at, at + 10))}, want ${JSON.stringify(want.slice(at, at + 10))}`,
      );
    }
    if (s.messages.length !== sent.length) throw new Mismatch(`${s.messages.length} messages; want ${sent.length}: ${JSON.stringify(s.messages.slice(sent.length, sent.length + 3))}...`);
  });
  await closeSession(s);
  return { messages: sent.length, bytes };
}

// PubSub keeps the replies of a /ws session, decoded, for take.
class PubSub {
  constructor(s) {
    this.s = s;
    this.taken = 0; // messages of s looked at
    this.pending = []; // decoded, not yet taken
  }

  #decode() {
    while (this.taken < this.s.messages.length) {
      const raw = this.s.messages[this.taken++];
      try {
        this.pending.push(JSON.parse(raw));
      } catch (err) {
        throw new Mismatch(`a message that is not JSON: ${JSON.stringify(raw.slice(0, 200))}: ${err.message}`);
      }
    }
  }

  request(obj) {
    this.s.send(JSON.stringify(obj));
  }

  // take waits for a message that deepEquals want (pred(m) for a function)
  // and removes it from the pending ones.
  async take(want, what) {
    const pred = typeof want === "function" ? want : (m) => isDeepStrictEqual(m, want);
    return this.s.until(() => {
      this.#decode();
      const i = this.pending.findIndex(pred);
      return i < 0 ? undefined : this.pending.splice(i, 1)[0];
    }, `${what ?? JSON.stringify(want)}; got ${JSON.stringify(this.pending).slice(0, 300)}`);
  }

  // none fails if a message is pending that pred matches (all if pred is
  // not given).
  none(what, pred = () => true) {
    this.#decode();
    const extra = this.pending.filter(pred);
    if (extra.length > 0) throw new Mismatch(`${what}: ${JSON.stringify(extra).slice(0, 300)}`);
  }
}

// wsPublish publishes data to topic from a plain WebSocket client on wsURL
// and waits for its ack.
async function wsPublish(wsURL, topic, data) {
  const headers = flags.token !== undefined ? { Authorization: `Bearer ${flags.token}` } : {};
  const ws = new WebSocket(wsURL, { headers });
  try {
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", (err) => reject(new Mismatch(`${wsURL}: ${err.message}`)));
      ws.once("close", (code, reason) => reject(new Mismatch(`${wsURL} closed ${code} ${reason}`)));
    });
    const acked = new Promise((resolve, reject) => {
      ws.on("message", (raw) => {
        const m = JSON.parse(raw.toString());
        if (m.op === "ack" && m.id === "ws-1") resolve();
        else reject(new Mismatch(`the WebSocket publisher got ${raw.toString().slice(0, 300)}; want {"op":"ack","id":"ws-1"}`));
      });
      ws.once("close", (code, reason) => reject(new Mismatch(`${wsURL} closed ${code} ${reason} before the ack`)));
    });
    ws.send(JSON.stringify({ op: "publish", topic, data, id: "ws-1" }));
    await acked;
  } finally {
    ws.terminate();
  }
}

async function pubsubApp() {
  const s = await open("ws");
  const p = new PubSub(s);
  const tag = randomBytes(4).toString("hex");
  const topic = `sockjs.${flags.transport}.${tag}`;
  const other = `${topic}.other`;
  let n = 0;

  await check(`subscribe ${topic}: ack`, async () => {
    p.request({ op: "subscribe", topic, id: 1 });
    await p.take({ op: "ack", id: 1 });
    n++;
  });

  const data = {
    from: "sockjs-client",
    transport: flags.transport,
    text: 'h\u00e9llo \u2713 \u{1F680} "quoted" \\ \u2028 \u0000',
    values: [1, 2.5, -0.125, true, false, null, {}, []],
  };
  await check("publish to it: ack, and the message back", async () => {
    p.request({ op: "publish", topic, data, id: 2 });
    await p.take({ op: "ack", id: 2 });
    await p.take({ op: "message", topic, data });
    n += 2;
  });

  await check("publish to an invalid topic: error invalid_topic", async () => {
    p.request({ op: "publish", topic: "bad..topic", data: 1, id: 3 });
    const e = await p.take((m) => m.op === "error" && m.id === 3, '{"op":"error","id":3,...}');
    if (e.code !== "invalid_topic" || typeof e.message !== "string" || e.message === "") {
      throw new Mismatch(`got ${JSON.stringify(e)}; want code invalid_topic and a message`);
    }
    n++;
  });

  if (flags["ws-url"]) {
    await check(`a publication from a WebSocket client on ${flags["ws-url"]} reaches the SockJS subscriber`, async () => {
      const fromWS = { from: "ws", tag, text: "\u2713" };
      await wsPublish(flags["ws-url"], topic, fromWS);
      await p.take({ op: "message", topic, data: fromWS });
      n++;
    });
  }

  await check("unsubscribe: ack; then nothing more for the topic", async () => {
    p.request({ op: "unsubscribe", topic, id: 4 });
    await p.take({ op: "ack", id: 4 });
    p.none("a message before the unsubscribe's ack was taken");
    p.request({ op: "publish", topic, data: "after unsubscribe", id: 5 });
    await p.take({ op: "ack", id: 5 });
    p.request({ op: "subscribe", topic: other, id: 6 });
    await p.take({ op: "ack", id: 6 });
    p.request({ op: "publish", topic: other, data: { on: "other" }, id: 7 });
    await p.take({ op: "ack", id: 7 });
    await p.take({ op: "message", topic: other, data: { on: "other" } });
    p.none("a message after unsubscribing");
    n += 5;
  });

  await closeSession(s);
  return { messages: n, topic };
}

async function refusedApp() {
  const s = new Session("echo");
  const c = await check("the server refuses the session: closed, no message", async () => {
    try {
      await s.opened;
      s.send(flags.token !== undefined && flags["token-in"] === "message" ? flags.token : "hello?");
      if (flags.token !== undefined && flags["token-in"] === "message") s.send("hello?");
    } catch {
      // Closed before opening: refused as early as can be.
    }
    const c = await s.closed;
    if (s.messages.length > 0) throw new Mismatch(`got ${JSON.stringify(s.messages).slice(0, 300)} before the close`);
    return c;
  });
  console.log(`closed ${c.code} ${c.reason}`);
  return { code: c.code, reason: c.reason };
}

try {
  const service = flags.app === "pubsub" ? "ws" : "echo";
  await checkTrust(service);
  let result;
  if (flags.app === "refused") {
    result = await refusedApp();
  } else {
    await checkInfo(service);
    result = flags.app === "echo" ? await echoApp() : await pubsubApp();
  }
  console.log(JSON.stringify({ transport: flags.transport, app: flags.app, url: flags.url, ...result, ms: Date.now() - began }));
  process.exit(0);
} catch (err) {
  fail(err instanceof Mismatch ? err.message : (err.stack ?? String(err)));
}
