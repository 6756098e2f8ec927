// deflate.mjs: checks permessage-deflate (RFC 7692) between headless
// Chromium (driven by playwright-core from ../node) and wssd. Chromium,
// trusting the dev CA (see nsshome.mjs), loads wssd's page over https://;
// in that page a WebSocket of the test's own opens wss://HOST/echo, must
// report permessage-deflate in ws.extensions, and sends JSON text and
// binary messages of about 4 KiB (and 300 bytes to 64 KiB), each of whose
// echoes must match. The DevTools protocol reports the handshake's
// Sec-WebSocket-Extensions both ways.
//
//   node deflate.mjs wss://localhost:PORT/echo DATA_DIR/dev-ca.pem [CHROMIUM]
//
// It prints the offer ("offer: ..."), the answer ("extensions: ...") and,
// last, a line "deflate: {JSON}" with what the server should count:
// clientCompressed, the messages Chromium is expected to send compressed
// (it compresses every data message); serverCompressible, the echoes the
// server should send compressed (JSON of 256 bytes or more); messages, all
// of them. CHROMIUM defaults to $WSSD_CHROMIUM or /usr/bin/chromium. Exits
// 0 when every check passes, 1 with the failed check and the browser's
// console otherwise, and 1 after 45 s at the latest: it never hangs.
import { json } from "../node/jsonmsg.mjs";
import { Driver } from "./launch.mjs";

const TIMEOUT_MS = 45_000;
const STEP_MS = 10_000;
const SERVER_THRESHOLD = 256; // wssd's default --deflate-threshold

const [echoURL, caFile, executable = process.env.WSSD_CHROMIUM || "/usr/bin/chromium"] = process.argv.slice(2);
if (!echoURL || !caFile) {
  console.error("usage: node deflate.mjs wss://HOST:PORT/echo CA_FILE [CHROMIUM]");
  process.exit(2);
}
const u = new URL(echoURL);
if (u.protocol !== "wss:") {
  console.error(`FAIL chromium deflate: ${echoURL} is not a wss:// URL`);
  process.exit(2);
}
const pageURL = new URL("/", echoURL.replace(/^wss:/, "https:")).href;
// The test's socket, told apart from the page's own by its query.
const socketURL = new URL("/echo?client=deflate-interop", echoURL).href;

let context;

const d = new Driver({ name: "chromium deflate", tmpPrefix: "wssd-interop-deflate-", caFile, executable, timeoutMs: TIMEOUT_MS, stepMs: STEP_MS });

// header returns the value of the header name (any case) in headers.
function header(headers, name) {
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === name) return v;
  }
  return "";
}

let page;
await d.check("launch Chromium trusting the CA", async () => {
  context = await d.launch("trusted", true);
  page = d.watch(context.pages()[0] ?? (await context.newPage()));
});

// The handshakes, by the DevTools protocol's request id.
const handshakes = new Map();
await d.check(`load ${pageURL}`, async () => {
  const cdp = await context.newCDPSession(page);
  const hs = (id) => handshakes.get(id) ?? handshakes.set(id, {}).get(id);
  cdp.on("Network.webSocketCreated", (e) => (hs(e.requestId).url = e.url));
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => (hs(e.requestId).offer = header(e.request.headers, "sec-websocket-extensions")));
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) => (hs(e.requestId).answer = header(e.response.headers, "sec-websocket-extensions")));
  await cdp.send("Network.enable");
  const resp = await page.goto(pageURL, { timeout: STEP_MS });
  if (!resp || resp.status() !== 200) throw new Error(`status ${resp?.status()}; want 200`);
});

// The messages, made here (jsonmsg.mjs) and sent by the page.
const msgs = [];
for (const n of [300, 1024, 4000, 4095, 4096, 4097, 16384, 65536]) msgs.push({ text: json(n), binary: false });
for (let seed = 1; seed <= 4; seed++) msgs.push({ text: json(4096, 4096 + seed), binary: false });
msgs.push({ text: json(4096, 77), binary: true });

let result;
await d.check(`the page's WebSocket to ${socketURL}: ${msgs.length} JSON echoes`, async () => {
  result = await page.evaluate(
    async ({ url, msgs, stepMs }) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      const queue = [];
      const waiters = [];
      let closed;
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error("WebSocket error before open"));
        ws.onclose = (e) => reject(new Error(`closed before open: ${e.code}`));
      });
      ws.onclose = (e) => {
        closed = e;
        for (const w of waiters.splice(0)) w(null);
      };
      ws.onmessage = (e) => {
        const w = waiters.shift();
        if (w) w(e.data);
        else queue.push(e.data);
      };
      const next = () =>
        queue.length > 0
          ? Promise.resolve(queue.shift())
          : new Promise((resolve, reject) => {
              waiters.push(resolve);
              setTimeout(() => reject(new Error(`no echo within ${stepMs} ms`)), stepMs);
            });
      const enc = new TextEncoder();
      const dec = new TextDecoder("utf-8", { fatal: true });
      for (const [i, m] of msgs.entries()) {
        ws.send(m.binary ? enc.encode(m.text) : m.text);
        const got = await next();
        if (got === null) throw new Error(`message ${i}: the connection closed (${closed.code} ${closed.reason})`);
        const isBinary = got instanceof ArrayBuffer;
        if (isBinary !== m.binary) throw new Error(`message ${i}: got ${isBinary ? "binary" : "text"}, want ${m.binary ? "binary" : "text"}`);
        const text = isBinary ? dec.decode(got) : got;
        if (text !== m.text) throw new Error(`message ${i}: the echo of ${enc.encode(m.text).length} bytes differs (${enc.encode(text).length} bytes)`);
      }
      const extensions = ws.extensions;
      await new Promise((resolve) => {
        ws.onclose = resolve;
        ws.close(1000);
      });
      return { extensions };
    },
    { url: socketURL, msgs, stepMs: STEP_MS },
  );
});

const ours = [...handshakes.values()].find((h) => h.url === socketURL) ?? {};
console.log(`offer: ${ours.offer ?? ""}`);
console.log(`extensions: ${ours.answer ?? ""}`);

await d.check("ws.extensions names permessage-deflate", async () => {
  console.log(`     ws.extensions: ${JSON.stringify(result.extensions)}`);
  if (!/^permessage-deflate\b/.test(result.extensions)) throw new Error(`ws.extensions is ${JSON.stringify(result.extensions)}`);
  if (ours.answer !== undefined && ours.answer !== result.extensions) {
    throw new Error(`ws.extensions ${JSON.stringify(result.extensions)} is not the answer's header ${JSON.stringify(ours.answer)}`);
  }
});

d.stop();
const version = context.browser()?.version() ?? executable;
await context.close();
d.cleanup();
const sizes = msgs.map((m) => Buffer.byteLength(m.text));
const counts = {
  clientCompressed: sizes.length,
  serverCompressible: sizes.filter((n) => n >= SERVER_THRESHOLD).length,
  messages: sizes.length,
};
console.log(`chromium deflate (${version}): all ${d.passed} checks passed`);
console.log(`deflate: ${JSON.stringify(counts)}`);
