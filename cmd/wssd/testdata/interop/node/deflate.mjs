// deflate.mjs: checks permessage-deflate (RFC 7692) on a wssd /echo
// endpoint over wss:// with the `ws` client's default options, which offer
// it ("permessage-deflate; client_max_window_bits") and compress the
// client's messages of 1024 bytes or more; trusting only the given CA.
//
//   node deflate.mjs wss://HOST:PORT/echo CA_FILE [--similar N] [--declined]
//
// It sends JSON text and binary messages of sizes around 1 KiB and 4 KiB
// and larger, one fragmented, and random binary, and checks each echo;
// with --similar N, then N similar JSON messages of 200 to 3000 bytes, all
// sent before their echoes are read (with context takeover, each refers
// back to the ones before). With --declined the server must not agree to
// the extension (ws.extensions === "").
//
// It prints the answer's Sec-WebSocket-Extensions ("extensions: ...") and,
// last, a line "deflate: {JSON}" with what the server should count:
// clientCompressed, the messages ws sent compressed (with its own window
// kept, ws compresses every message, not only those of 1024 bytes or
// more); serverCompressible,
// the echoes the server should send compressed (JSON of 256 bytes or
// more); messages, all of them. Exits 0 when every check passes, 1 with
// the failed check's name and reason otherwise, and 1 after 20 s at the
// latest: it never hangs.
import { randomBytes } from "node:crypto";
import fs from "node:fs";

import { json } from "./jsonmsg.mjs";
import { Checks } from "./checks.mjs";
import { wsOpen } from "./wsopen.mjs";

const TIMEOUT_MS = 20_000;
const WS_THRESHOLD = 1024; // ws's default perMessageDeflate.threshold
const SERVER_THRESHOLD = 256; // wssd's default --deflate-threshold

const args = process.argv.slice(2);
const [url, caFile] = args;
if (!url || !caFile) {
  console.error("usage: node deflate.mjs wss://HOST:PORT/echo CA_FILE [--similar N] [--declined]");
  process.exit(2);
}
const similar = args.includes("--similar") ? Number(args[args.indexOf("--similar") + 1]) : 0;
const declined = args.includes("--declined");
const ca = fs.readFileSync(caFile);

const checks = new Checks("node deflate", TIMEOUT_MS);
const { fail, check } = checks;
let closing = false;

// connect opens a client with ws's defaults (but the CA) and returns it,
// the answer's Sec-WebSocket-Extensions and a queue of the messages it
// receives (see wsopen.mjs).
function connect() {
  return wsOpen(url, { ca }, fail, () => closing);
}

function describe(m) {
  return `${m.isBinary ? "binary" : "text"} message of ${m.data.length} bytes`;
}

async function expectEcho(next, want, binary) {
  const m = await next();
  const wantBuf = Buffer.isBuffer(want) ? want : Buffer.from(want);
  if (m.isBinary !== binary) fail(`got a ${describe(m)}; want ${binary ? "binary" : "text"}`);
  if (!m.data.equals(wantBuf)) fail(`echo differs: got a ${describe(m)}, want ${wantBuf.length} bytes`);
}

// What the server is to count, as the client sees it.
const counts = { clientCompressed: 0, serverCompressible: 0, messages: 0 };
let agreed = false; // permessage-deflate is in use
let clientTakeover = false; // and ws keeps its window

// wsCompresses reports whether ws sends a message whose first frame is of
// n bytes compressed: with the extension, it compresses every message when
// it keeps its window, and those of its threshold or more otherwise.
function wsCompresses(n) {
  return agreed && (clientTakeover || n >= WS_THRESHOLD);
}

// sent notes a message of n bytes sent whole (compressible: JSON).
function sent(n, compressible) {
  counts.messages++;
  if (wsCompresses(n)) counts.clientCompressed++;
  if (agreed && compressible && n >= SERVER_THRESHOLD) counts.serverCompressible++;
}

const TEXT_SIZES = [100, 255, 256, 300, 1000, 1023, 1024, 1025, 4000, 4095, 4096, 4097, 16384, 65536, 300_000];
const BINARY_SIZES = [1024, 4096, 65536];

try {
  let conn;
  await check("connect with ws's default options", async () => {
    try {
      conn = await connect();
    } catch (err) {
      fail(`${err.code ?? ""} ${err.message}`);
    }
  });
  const { ws, next } = conn;
  console.log(`extensions: ${conn.answer}`);

  if (declined) {
    await check("no extension agreed", async () => {
      if (ws.extensions !== "") fail(`ws.extensions is ${JSON.stringify(ws.extensions)}; want ""`);
      if (conn.answer !== "") fail(`Sec-WebSocket-Extensions: ${conn.answer}; want none`);
    });
  } else {
    await check("permessage-deflate agreed", async () => {
      if (ws.extensions !== "permessage-deflate") fail(`ws.extensions is ${JSON.stringify(ws.extensions)}; want "permessage-deflate"`);
      if (!/^permessage-deflate\b/.test(conn.answer)) fail(`Sec-WebSocket-Extensions: ${JSON.stringify(conn.answer)}`);
    });
    agreed = true;
    clientTakeover = !/\bclient_no_context_takeover\b/.test(conn.answer);
  }

  for (const n of TEXT_SIZES) {
    await check(`JSON text ${n} bytes`, async () => {
      const s = json(n);
      ws.send(s);
      sent(n, true);
      await expectEcho(next, s, false);
    });
  }
  for (const n of BINARY_SIZES) {
    await check(`JSON as binary ${n} bytes`, async () => {
      const b = Buffer.from(json(n, n + 1));
      ws.send(b);
      sent(n, true);
      await expectEcho(next, b, true);
    });
  }
  await check("random binary 4096 bytes", async () => {
    const b = randomBytes(4096);
    ws.send(b);
    sent(b.length, false);
    await expectEcho(next, b, true);
  });

  await check("fragmented JSON text (3 frames, 10 KiB)", async () => {
    const s = json(10_240, 7);
    // ws compresses a fragmented message when its first fragment is of
    // the threshold or more.
    const parts = [s.slice(0, 2000), s.slice(2000, 6000), s.slice(6000)];
    ws.send(parts[0], { fin: false });
    ws.send(parts[1], { fin: false });
    ws.send(parts[2], { fin: true });
    counts.messages++;
    if (wsCompresses(Buffer.byteLength(parts[0]))) counts.clientCompressed++;
    if (agreed) counts.serverCompressible++;
    await expectEcho(next, s, false);
  });

  if (similar > 0) {
    await check(`${similar} similar JSON messages, pipelined`, async () => {
      const sizes = [200, 700, 1100, 1500, 2048, 3000];
      const msgs = [];
      for (let i = 0; i < similar; i++) {
        const s = json(sizes[i % sizes.length], 1000 + i);
        msgs.push(s);
        ws.send(s);
        sent(Buffer.byteLength(s), true);
      }
      for (const s of msgs) await expectEcho(next, s, false);
    });
  }

  await check("close 1000", async () => {
    const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
    closing = true;
    ws.close(1000);
    const code = await closed;
    if (code !== 1000) fail(`close code ${code}; want 1000`);
  });
} catch (err) {
  fail(err.stack ?? String(err));
}

checks.stop();
console.log(`node deflate: all ${checks.passed} checks passed`);
console.log(`deflate: ${JSON.stringify(counts)}`);
