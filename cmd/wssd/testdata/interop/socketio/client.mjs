// client.mjs: npm's socket.io-client (Node, from ../node) against a
// Socket.IO v5 / Engine.IO v4 server, trusting only the given CA.
//
//   node client.mjs https://localhost:PORT CA.pem SCENARIO [ARGS] [OPTIONS]
//
// Scenarios:
//
//   websocket | polling | default
//       One connection on that transport ("default": polling first, then
//       the upgrade, which must happen), then every check of the reference
//       behaviour below, then a clean disconnect.
//   reconnect
//       Connects, does a round trip and prints `connected ID`; then waits
//       while the server is restarted on the same port: socket.io-client
//       must reconnect by itself; prints `reconnected ID` and does a round
//       trip again.
//   many N
//       N polling-only clients at once, each with its own connection: each
//       connects and does one `message-with-ack` round trip; then all
//       disconnect. Prints the count and the time.
//   connect-error MESSAGE
//       Connecting (once, no retries) must fail with a connect_error whose
//       message is MESSAGE: "Invalid namespace", a middleware's refusal
//       ("invalid token", say), or "xhr poll error" / "websocket error" for
//       a refusal at the HTTP level (with --description, the error's
//       description, the HTTP status for polling, must contain that text).
//   pubsub TOPIC [publish]
//       emit("subscribe", {topic: TOPIC}, ack) expecting ack(null) (an error
//       is acked as an object {code, message}) and prints `subscribed`; with
//       `publish`, then emit("publish", {topic: TOPIC, data: {n: 1}}, ack),
//       also expecting ack(null). Then waits for a server event `message`
//       {topic, data} (with `publish`: the one published), prints it as JSON
//       and exits.
//
// Options:
//   --token T           auth {token: T} on every namespace (else no auth)
//   --header "N: V"     an extra HTTP header on every request; repeatable
//   --query K=V         an extra query parameter; repeatable
//   --origin O          the Origin header (what a page at O would send)
//   --transport T       websocket, polling (no upgrade) or default, for the
//                       scenarios that are not named after one (default:
//                       default; many is always polling)
//   --description TEXT  with connect-error: see above
//   --namespace NS      with connect-error: the namespace to connect to
//                       (default /)
//   --timeout S         the overall timeout, in seconds (default 30; 60
//                       for many)
//
// The reference behaviour the transport scenarios and reconnect expect (the
// conformance app of server.mjs; CONFORMANCE.md, "Engine.IO v4 and Socket.IO
// v5", plus the server-initiated ack of `ping-me`):
//
//   - on connection to "/": the server emits `auth` with the handshake's
//     auth object ({} when the client sent none, {token} with --token);
//   - `message` with any arguments: the server emits `message-back` with
//     the same arguments, in order;
//   - `message-with-ack` with arguments and an ack: the server acks with
//     the same arguments;
//   - `ping-me` with arguments: the server emits `ask` with the same
//     arguments and an ack; the client acks with ("pong", ...the same
//     arguments); the server then emits `ask-result` with exactly the
//     arguments of that ack;
//   - namespace "/custom": on connection the server emits `auth` only;
//   - namespace "/nope" (or any unknown one): connect_error "Invalid
//     namespace".
//
// Arguments are checked both ways: strings (with multi-byte UTF-8 and one
// of 100 KiB), numbers, booleans, null, nested objects and arrays, and
// binary (Buffer, ArrayBuffer, Uint8Array; top level and inside objects and
// arrays; several attachments per packet; 0 bytes to 100 KiB).
//
// Prints a line per check; exits 0 when every check passes, 1 with the
// failed check's name and reason otherwise, and 1 at the overall timeout at
// the latest: it never hangs. 2 for bad usage.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import { isDeepStrictEqual, parseArgs } from "node:util";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { io } = require("socket.io-client");

const STEP_MS = 10_000; // for one ack to come back

function usage(msg) {
  if (msg) console.error(`client.mjs: ${msg}`);
  console.error(
    "usage: node client.mjs https://HOST:PORT CA_FILE websocket|polling|default|reconnect|many N|connect-error MESSAGE|pubsub TOPIC [publish] [--token T] [--header 'N: V'] [--query K=V] [--origin O] [--transport T] [--description TEXT] [--timeout S]",
  );
  process.exit(2);
}

const [url, caFile, scenario, ...rest] = process.argv.slice(2);
if (!url || !caFile || !scenario) usage();
let flags, positionals;
try {
  ({ values: flags, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      token: { type: "string" },
      header: { type: "string", multiple: true, default: [] },
      query: { type: "string", multiple: true, default: [] },
      origin: { type: "string" },
      transport: { type: "string" },
      description: { type: "string" },
      timeout: { type: "string" },
      namespace: { type: "string", default: "/" },
    },
  }));
} catch (err) {
  usage(err.message);
}

// Given as `ca`, these certificates replace Node's bundled roots: the server
// is trusted only through this CA (engine.io-client hands `ca` to both the
// XHR and the WebSocket transports).
let ca;
try {
  ca = fs.readFileSync(caFile);
} catch (err) {
  usage(`the CA: ${err.message}`);
}

// Mismatch is a failed check: its message says it all, without a stack.
class Mismatch extends Error {}

let current = "start";
let passed = 0;

function fail(msg) {
  console.error(`FAIL socket.io ${scenario}: ${current}: ${msg}`);
  process.exit(1);
}

const timeoutS = Number(flags.timeout ?? (scenario === "many" ? 60 : 30));
if (!(timeoutS > 0)) usage(`bad --timeout ${flags.timeout}`);
const overall = setTimeout(() => fail(`timed out after ${timeoutS} s`), timeoutS * 1000);

function done(msg) {
  clearTimeout(overall);
  console.log(msg);
  process.exit(0);
}

async function check(name, fn) {
  current = name;
  try {
    await fn();
  } catch (err) {
    fail(err instanceof Mismatch ? err.message : (err.stack ?? String(err)));
  }
  passed++;
  console.log(`ok   ${name}`);
}

// baseOptions are the socket.io-client options every scenario starts from.
function baseOptions(transport = flags.transport ?? "default") {
  const opts = { ca };
  switch (transport) {
    case "websocket":
      opts.transports = ["websocket"];
      break;
    case "polling":
      opts.transports = ["polling"];
      opts.upgrade = false;
      break;
    case "default":
      break;
    default:
      usage(`unknown transport ${transport}`);
  }
  if (flags.token !== undefined) opts.auth = { token: flags.token };
  const headers = {};
  for (const h of flags.header) {
    const i = h.indexOf(":");
    if (i <= 0) usage(`--header ${JSON.stringify(h)} is not "Name: value"`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  if (flags.origin !== undefined) headers.Origin = flags.origin;
  if (Object.keys(headers).length > 0) opts.extraHeaders = headers;
  if (flags.query.length > 0) {
    opts.query = {};
    for (const q of flags.query) {
      const i = q.indexOf("=");
      if (i <= 0) usage(`--query ${JSON.stringify(q)} is not K=V`);
      opts.query[q.slice(0, i)] = q.slice(i + 1);
    }
  }
  return opts;
}

const expectedAuth = flags.token !== undefined ? { token: flags.token } : {};

// --- values and comparisons ---

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function bytes(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

// difference returns where got first differs from want, or "" if they are
// the same; binary values of any kind compare by their bytes.
function difference(got, want, at = "args") {
  if (isBinary(want)) {
    if (!isBinary(got)) return `${at}: got ${describe(got)}; want ${describe(want)}`;
    return bytes(got).equals(bytes(want)) ? "" : `${at}: got ${describe(got)}; want ${describe(want)} (other bytes)`;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) return `${at}: got ${describe(got)}; want an array of ${want.length}`;
    if (got.length !== want.length) return `${at}: got ${got.length} elements; want ${want.length}: ${describe(got)}`;
    for (let i = 0; i < want.length; i++) {
      const d = difference(got[i], want[i], `${at}[${i}]`);
      if (d) return d;
    }
    return "";
  }
  if (want !== null && typeof want === "object") {
    if (got === null || typeof got !== "object" || Array.isArray(got) || isBinary(got)) {
      return `${at}: got ${describe(got)}; want an object`;
    }
    const gk = Object.keys(got).sort();
    const wk = Object.keys(want).sort();
    if (!isDeepStrictEqual(gk, wk)) return `${at}: keys ${JSON.stringify(gk)}; want ${JSON.stringify(wk)}`;
    for (const k of wk) {
      const d = difference(got[k], want[k], `${at}.${k}`);
      if (d) return d;
    }
    return "";
  }
  return Object.is(got, want) ? "" : `${at}: got ${describe(got)}; want ${describe(want)}`;
}

function describe(v) {
  const s = JSON.stringify(v, (_, x) => {
    if (x && typeof x === "object" && x.type === "Buffer" && Array.isArray(x.data)) return `<${x.data.length} bytes>`;
    if (isBinary(x)) return `<${bytes(x).length} bytes>`;
    return x;
  });
  if (s === undefined) return String(v);
  return s.length > 200 ? `${s.slice(0, 200)}… (${s.length} characters)` : s;
}

function same(got, want, what) {
  const d = difference(got, want);
  if (d) throw new Mismatch(`${what}: ${d}`);
}

// text returns a string of n UTF-8 bytes with multi-byte characters.
function text(n) {
  const unit = "wssd é ✓ 🚀 "; // 17 bytes
  let s = unit.repeat(Math.floor(n / Buffer.byteLength(unit)));
  return s + "x".repeat(n - Buffer.byteLength(s));
}

const TEXT_ARGS = [
  "hello",
  "wssd é ✓ 🚀",
  "",
  42,
  -3.5,
  true,
  false,
  null,
  { nested: { list: [1, "two", { three: 3 }], empty: {}, none: null } },
  [],
  text(100 * 1024),
];

function arrayBuffer(n) {
  const b = randomBytes(n);
  return b.buffer.slice(b.byteOffset, b.byteOffset + n);
}

// binaryArgs has five attachments, of 0 bytes to 100 KiB, at the top level
// and inside objects and arrays, between plain values.
function binaryArgs() {
  return [
    randomBytes(100 * 1024),
    arrayBuffer(0),
    { name: "file", data: randomBytes(1), parts: [new Uint8Array(randomBytes(125)), { deep: arrayBuffer(3) }] },
    "between the attachments",
    [randomBytes(65536), 7],
  ];
}

// --- sockets ---

// queue returns a function that resolves with the arguments of each emit
// of event on socket, in order, queueing the ones nobody waits for yet; with
// a step (ms), it rejects when the next one takes longer than that.
function queue(socket, event, step) {
  const got = [];
  const waiters = [];
  socket.on(event, (...args) => {
    const w = waiters.shift();
    if (w) w(args);
    else got.push(args);
  });
  return () => {
    if (got.length > 0) return Promise.resolve(got.shift());
    return new Promise((resolve, reject) => {
      const timer = step && setTimeout(() => reject(new Mismatch(`no ${event} event within ${step / 1000} s`)), step);
      waiters.push((args) => {
        clearTimeout(timer);
        resolve(args);
      });
    });
  };
}

// within resolves or rejects as promise does, or rejects after STEP_MS.
function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`no ${what} within ${STEP_MS / 1000} s`)), STEP_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// connected resolves when socket connects, and rejects with its
// connect_error or when its connection closes first.
function connected(socket) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    const off = () => {
      socket.off("connect", ok);
      socket.off("connect_error", ko);
      socket.off("disconnect", closed);
    };
    const ok = () => {
      off();
      resolve(socket);
    };
    const ko = (err) => {
      off();
      reject(new Mismatch(`connect_error: ${describeError(err)}`));
    };
    const closed = (reason) => {
      off();
      reject(new Mismatch(`the connection closed before the Socket.IO CONNECT was answered: ${reason}`));
    };
    socket.on("connect", ok);
    socket.on("connect_error", ko);
    socket.on("disconnect", closed);
  });
}

function describeError(err) {
  const parts = [JSON.stringify(err.message)];
  if (err.description !== undefined) parts.push(`description ${describeDescription(err.description)}`);
  if (err.data !== undefined) parts.push(`data ${describe(err.data)}`);
  const cause = errorCause(err);
  if (cause) parts.push(`cause ${cause}`);
  return parts.join(", ");
}

// errorCause digs out the network or TLS error under a transport error:
// engine.io-client reports a failed XHR by its status (0) alone, and keeps
// the Node error in the request's statusText.
function errorCause(err) {
  const e = err.context?.statusText ?? err.description?.error;
  return e instanceof Error ? `${e.code ?? e.name}: ${e.message}` : "";
}

function describeDescription(d) {
  if (d === null || typeof d !== "object") return String(d);
  return d.message ?? d.error?.message ?? describe(d);
}

// ack emits event with args and resolves with the arguments of the ack,
// which must come within STEP_MS (or ms).
function ack(socket, event, ...args) {
  return ackWithin(STEP_MS, socket, event, ...args);
}

function ackWithin(ms, socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(event, ...args, (err, ...reply) => {
      if (err) reject(new Mismatch(`no ack to ${event} within ${ms / 1000} s`));
      else resolve(reply);
    });
  });
}

// watch fails the run when socket disconnects before the run has said it
// is done with it.
function watch(socket, name) {
  socket.on("disconnect", (reason, details) => {
    if (!socket.closing) fail(`${name} disconnected: ${reason}${details ? ` (${describeDescription(details.description ?? details)})` : ""}`);
  });
}

// close disconnects socket and resolves when its Engine.IO connection has
// closed, if it was the last socket on it.
function close(socket) {
  socket.closing = true;
  const engine = socket.io.engine;
  const last = Object.values(socket.io.nsps).filter((s) => s.active).length === 1;
  const closed = last && engine ? new Promise((r) => engine.once("close", r)) : Promise.resolve();
  socket.disconnect();
  return closed;
}

function transportName(socket) {
  return socket.io.engine?.transport?.name;
}

function upgraded(socket) {
  return new Promise((resolve, reject) => {
    const engine = socket.io.engine;
    if (transportName(socket) === "websocket") return resolve();
    engine.once("upgrade", () => resolve());
    engine.once("upgradeError", (err) => reject(new Mismatch(`upgrade failed: ${describeError(err)}`)));
  });
}

// --- scenarios ---

async function roundTrip(socket, nextBack, args, what) {
  socket.emit("message", ...args);
  same(await nextBack(), args, what);
}

async function transportScenario(transport) {
  const opts = baseOptions(transport);
  const socket = io(url, opts);
  const atStart = transportName(socket);
  const nextAuth = queue(socket, "auth", STEP_MS);
  const nextBack = queue(socket, "message-back", STEP_MS);
  const nextAskResult = queue(socket, "ask-result", STEP_MS);
  const asked = [];
  socket.on("ask", (...args) => {
    const reply = args.pop();
    if (typeof reply !== "function") fail(`the server's \`ask\` ${describe(args)} came without an ack`);
    asked.push(args);
    reply("pong", ...args);
  });

  await check("refused without the CA", async () => {
    const untrusted = io(url, { ...opts, ca: undefined, forceNew: true, reconnection: false });
    const err = await within(
      new Promise((resolve) => {
        untrusted.once("connect", () => fail("connected without the CA: is the server's certificate really from it?"));
        untrusted.once("connect_error", resolve);
      }),
      "connect_error",
    );
    untrusted.disconnect();
    const why = `${describeDescription(err.description)} ${errorCause(err)}`;
    if (!/certificate|self.signed|verify|CERT_/i.test(why)) throw new Mismatch(`want a certificate error, got ${describeError(err)}`);
    console.log(`     connect_error ${describeError(err)}`);
  });

  await check(`connect to / over ${transport}`, async () => {
    await within(connected(socket), "connection");
    watch(socket, "/");
    console.log(`     id ${socket.id}, Engine.IO sid ${socket.io.engine.id}, transport ${transportName(socket)}`);
    const want = transport === "websocket" ? "websocket" : "polling";
    if (atStart !== want) throw new Mismatch(`the first transport is ${atStart}; want ${want}`);
  });

  await check("auth event echoes the handshake's auth", async () => {
    same((await nextAuth())[0], expectedAuth, "auth");
  });

  if (transport === "default") {
    await check("upgrade to websocket", async () => {
      await within(upgraded(socket), "upgrade");
      if (transportName(socket) !== "websocket") throw new Mismatch(`transport ${transportName(socket)} after the upgrade`);
    });
  }

  await check("message -> message-back (text, numbers, null, objects, 100 KiB string)", () =>
    roundTrip(socket, nextBack, TEXT_ARGS, "message-back"),
  );

  await check("message -> message-back (5 binary attachments, 0 B to 100 KiB)", () =>
    roundTrip(socket, nextBack, binaryArgs(), "message-back"),
  );

  await check("message -> message-back with one empty binary argument", () =>
    roundTrip(socket, nextBack, [Buffer.alloc(0)], "message-back"),
  );

  await check("20 messages -> 20 message-back, in order", async () => {
    for (let i = 0; i < 20; i++) socket.emit("message", i, `n${i}`);
    for (let i = 0; i < 20; i++) same(await nextBack(), [i, `n${i}`], `message-back ${i}`);
  });

  await check("message-with-ack acked with its arguments (text)", async () => {
    same(await ack(socket, "message-with-ack", ...TEXT_ARGS), TEXT_ARGS, "ack");
  });

  await check("message-with-ack acked with its arguments (binary)", async () => {
    const args = binaryArgs();
    same(await ack(socket, "message-with-ack", ...args), args, "ack");
  });

  await check("message-with-ack without arguments", async () => {
    same(await ack(socket, "message-with-ack"), [], "ack");
  });

  await check("5 concurrent message-with-ack, each with its own ack", async () => {
    const replies = await Promise.all([0, 1, 2, 3, 4].map((i) => ack(socket, "message-with-ack", { i })));
    replies.forEach((r, i) => same(r, [{ i }], `ack ${i}`));
  });

  await check("ping-me -> ask (server's ack) -> ask-result (text)", async () => {
    const args = ["question", 1, { deep: [true, null] }];
    socket.emit("ping-me", ...args);
    same(await nextAskResult(), ["pong", ...args], "ask-result");
    same(asked.shift(), args, "ask");
  });

  await check("ping-me -> ask (server's ack) -> ask-result (binary)", async () => {
    const args = binaryArgs();
    socket.emit("ping-me", ...args);
    same(await nextAskResult(), ["pong", ...args], "ask-result");
    same(asked.shift(), args, "ask");
  });

  await check("namespace /custom on the same connection: auth only", async () => {
    const custom = io(`${url}/custom`, opts);
    const nextCustomAuth = queue(custom, "auth", STEP_MS);
    await within(connected(custom), "connection to /custom");
    watch(custom, "/custom");
    if (custom.io !== socket.io) throw new Mismatch("/custom did not share the connection of /");
    same((await nextCustomAuth())[0], expectedAuth, "auth on /custom");
    await within(close(custom), "close");
  });

  await check("/ still works after leaving /custom", () => roundTrip(socket, nextBack, ["still here"], "message-back"));

  await check('namespace /nope: connect_error "Invalid namespace"', async () => {
    const nope = io(`${url}/nope`, opts);
    const err = await within(
      new Promise((resolve) => {
        nope.once("connect", () => fail(`/nope connected (id ${nope.id}); want connect_error "Invalid namespace"`));
        nope.once("connect_error", resolve);
      }),
      "connect_error on /nope",
    );
    if (err.message !== "Invalid namespace") throw new Mismatch(`connect_error ${describeError(err)}; want "Invalid namespace"`);
    if (nope.active) throw new Mismatch("socket.io-client would retry /nope: the error did not come as a CONNECT_ERROR packet");
    nope.closing = true;
    nope.disconnect();
  });

  await check(`still on ${transport === "polling" ? "polling" : "websocket"}`, async () => {
    await roundTrip(socket, nextBack, ["last"], "message-back");
    const want = transport === "polling" ? "polling" : "websocket";
    if (transportName(socket) !== want) throw new Mismatch(`transport ${transportName(socket)}; want ${want}`);
  });

  await check("disconnect", () => within(close(socket), "close"));

  done(`socket.io ${transport}: all ${passed} checks passed`);
}

async function reconnectScenario() {
  const socket = io(url, baseOptions());
  const nextBack = queue(socket, "message-back", STEP_MS);
  let firstID;

  await check("connect", async () => {
    await connected(socket);
    firstID = socket.id;
    await roundTrip(socket, nextBack, ["before", 1], "message-back");
  });
  const again = new Promise((resolve) => {
    socket.io.on("reconnect_attempt", (n) => console.log(`reconnect attempt ${n}`));
    socket.io.on("reconnect_error", (err) => console.log(`reconnect error: ${describeError(err)}`));
    socket.on("disconnect", (reason) => {
      console.log(`disconnected: ${reason}`);
      if (reason === "io server disconnect") {
        fail("the server sent a DISCONNECT packet for /: socket.io-client does not reconnect after that by itself");
      }
      socket.once("connect", resolve);
    });
  });
  // The caller restarts the server when it reads this line.
  console.log(`connected ${firstID}`);
  current = "wait for the reconnection";
  await again;
  console.log(`reconnected ${socket.id}`);
  await check("message -> message-back after the reconnection", () =>
    roundTrip(socket, nextBack, ["after", 2], "message-back"),
  );
  await check("disconnect", () => close(socket));
  done(`socket.io reconnect: all ${passed} checks passed`);
}

async function manyScenario(n) {
  const began = performance.now();
  const ms = () => Math.round(performance.now() - began);
  const opts = { ...baseOptions("polling"), forceNew: true, reconnection: false };
  let acked = 0;
  const step = Math.max(1, Math.ceil(n / 4));
  current = `connect ${n} polling clients and do one ack each`;
  const sockets = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const socket = io(url, opts);
      try {
        await connected(socket);
        watch(socket, `client ${i}`);
        // Under this load, the overall timeout is the only one.
        const reply = await ackWithin(timeoutS * 1000, socket, "message-with-ack", i, `client ${i}`);
        same(reply, [i, `client ${i}`], "ack");
      } catch (err) {
        // One process runs every client: a heartbeat of well under a
        // second (CONFORMANCE.md's 300 ms + 200 ms) cannot be kept up.
        const hint = /ping timeout/.test(err.message) ? " (is the server's pingInterval + pingTimeout long enough for this many clients in one busy process?)" : "";
        fail(`client ${i} (${acked} of ${n} done): ${err.message}${hint}`);
      }
      if (++acked % step === 0 || acked === n) console.log(`     ${acked}/${n} connected and acked at ${ms()} ms`);
      return socket;
    }),
  );
  passed++;
  console.log(`ok   ${current}`);
  await check(`disconnect all ${n}`, () => Promise.all(sockets.map(close)));
  done(`socket.io many: ${n} clients connected, acked and disconnected in ${ms()} ms`);
}

async function connectErrorScenario(want) {
  const socket = io(new URL(flags.namespace, url).href, { ...baseOptions(), reconnection: false });
  await check(`connect_error ${JSON.stringify(want)} on ${flags.namespace}`, async () => {
    const err = await new Promise((resolve) => {
      socket.once("connect", () => fail(`connected (id ${socket.id}); want connect_error ${JSON.stringify(want)}`));
      socket.once("connect_error", resolve);
    });
    console.log(`     connect_error ${describeError(err)}`);
    if (err.message !== want) throw new Mismatch(`connect_error ${JSON.stringify(err.message)}; want ${JSON.stringify(want)}`);
    if (flags.description !== undefined && !describeDescription(err.description).includes(flags.description)) {
      throw new Mismatch(`description ${JSON.stringify(describeDescription(err.description))}; want it to contain ${JSON.stringify(flags.description)}`);
    }
  });
  socket.disconnect();
  done(`socket.io connect-error: all ${passed} checks passed`);
}

async function pubsubScenario(topic, publish) {
  const socket = io(url, baseOptions());
  const nextMessage = queue(socket, "message");
  await check("connect", async () => {
    await connected(socket);
    watch(socket, "/");
  });
  await check(`subscribe ${JSON.stringify(topic)}`, async () => {
    const [err] = await ack(socket, "subscribe", { topic });
    if (err !== null) throw new Mismatch(`subscribe acked ${describe(err)}; want null`);
  });
  // The caller starts a publisher when it reads this line.
  console.log("subscribed");
  const data = { n: 1 };
  if (publish) {
    await check(`publish ${JSON.stringify(data)}`, async () => {
      const [err] = await ack(socket, "publish", { topic, data });
      if (err !== null) throw new Mismatch(`publish acked ${describe(err)}; want null`);
    });
  }
  let message;
  await check("message {topic, data}", async () => {
    [message] = await nextMessage();
    if (message === null || typeof message !== "object" || typeof message.topic !== "string" || !("data" in message)) {
      throw new Mismatch(`message ${describe(message)}; want an object {topic, data}`);
    }
    if (publish) same(message, { topic, data }, "message");
  });
  console.log(JSON.stringify(message));
  await check("disconnect", () => close(socket));
  done(`socket.io pubsub: all ${passed} checks passed`);
}

try {
  switch (scenario) {
    case "websocket":
    case "polling":
    case "default":
      if (positionals.length > 0) usage(`${scenario} takes no arguments`);
      await transportScenario(scenario);
      break;
    case "reconnect":
      if (positionals.length > 0) usage("reconnect takes no arguments");
      await reconnectScenario();
      break;
    case "many": {
      const n = Number(positionals[0]);
      if (!Number.isInteger(n) || n < 1 || positionals.length !== 1) usage("many takes a count");
      await manyScenario(n);
      break;
    }
    case "connect-error":
      if (positionals.length !== 1) usage("connect-error takes the expected message");
      await connectErrorScenario(positionals[0]);
      break;
    case "pubsub":
      if (positionals.length < 1 || positionals.length > 2 || (positionals[1] ?? "publish") !== "publish") {
        usage("pubsub takes a topic and, optionally, publish");
      }
      await pubsubScenario(positionals[0], positionals[1] === "publish");
      break;
    default:
      usage(`unknown scenario ${scenario}`);
  }
} catch (err) {
  fail(err instanceof Mismatch ? err.message : (err.stack ?? String(err)));
}
