// echo.mjs: checks a wssd /echo endpoint over wss:// with the `ws` client,
// trusting only the given CA.
//
//   node echo.mjs wss://localhost:PORT/echo DATA_DIR/dev-ca.pem
//
// Exits 0 when every check passes, 1 with the failed check's name and reason
// otherwise, and 1 after 20 s at the latest: it never hangs.
import { randomBytes } from "node:crypto";
import fs from "node:fs";

import { Checks } from "./checks.mjs";
import { wsOpen } from "./wsopen.mjs";

const TIMEOUT_MS = 20_000;

const [url, caFile] = process.argv.slice(2);
if (!url || !caFile) {
  console.error("usage: node echo.mjs wss://HOST:PORT/echo CA_FILE");
  process.exit(2);
}
// Given as `ca`, these certificates replace Node's bundled roots: the server
// is trusted only through this CA.
const ca = fs.readFileSync(caFile);

const checks = new Checks("node echo", TIMEOUT_MS);
const { fail, check } = checks;
let closing = false; // the close handshake is the test's own

// connect opens a client on url with opts and returns it with a queue of
// the messages it receives, in order (see wsopen.mjs).
function connect(opts) {
  return wsOpen(url, opts, fail, () => closing);
}

// text returns a string of exactly n UTF-8 bytes, mostly ASCII with a few
// multi-byte characters so that a byte-for-character confusion shows.
function text(n) {
  const unit = "wssd é ✓ 🚀 "; // 1+1+1+1+1+2+1+3+1+4+1 = 17 bytes
  let s = unit.repeat(Math.floor(n / Buffer.byteLength(unit)));
  s += "x".repeat(n - Buffer.byteLength(s));
  if (Buffer.byteLength(s) !== n) throw new Error(`text(${n}) is ${Buffer.byteLength(s)} bytes`);
  return s;
}

function sameBytes(got, want) {
  return Buffer.isBuffer(got) && got.length === want.length && got.equals(want);
}

function describe(m) {
  return `${m.isBinary ? "binary" : "text"} message of ${m.data.length} bytes`;
}

async function expectText(next, want) {
  const m = await next();
  if (m.isBinary) fail(`got a ${describe(m)}; want text`);
  if (!sameBytes(m.data, Buffer.from(want))) fail(`text echo differs: got ${describe(m)}, want ${Buffer.byteLength(want)} bytes`);
}

async function expectBinary(next, want) {
  const m = await next();
  if (!m.isBinary) fail(`got a ${describe(m)}; want binary`);
  if (!sameBytes(m.data, want)) fail(`binary echo differs: got ${describe(m)}, want ${want.length} bytes`);
}

function pong(ws, want) {
  return new Promise((resolve) => {
    const on = (data) => {
      if (!sameBytes(data, want)) fail(`pong payload ${JSON.stringify(data.toString())}; want ${JSON.stringify(want.toString())}`);
      ws.off("pong", on);
      resolve();
    };
    ws.on("pong", on);
  });
}

const SIZES = [0, 125, 126, 65536, 1 << 20];

try {
  await check("untrusted without the CA", async () => {
    try {
      const { ws } = await connect({});
      ws.terminate();
      fail("the handshake succeeded without the dev CA: is the certificate really from the CA?");
    } catch (err) {
      if (!/certificate|self.signed|verify/i.test(`${err.code} ${err.message}`)) {
        fail(`want a certificate error, got ${err.code}: ${err.message}`);
      }
    }
  });

  const { ws, next } = await (async () => {
    checks.current = "connect trusting the CA";
    try {
      return await connect({ ca });
    } catch (err) {
      fail(`${err.code ?? ""} ${err.message}`);
    }
  })();
  checks.passed++;
  console.log(`ok   connect trusting the CA (${url})`);

  for (const n of SIZES) {
    await check(`text ${n} bytes`, async () => {
      const s = text(n);
      ws.send(s);
      await expectText(next, s);
    });
    await check(`binary ${n} bytes`, async () => {
      const b = randomBytes(n);
      ws.send(b);
      await expectBinary(next, b);
    });
  }

  await check("fragmented text (3 frames)", async () => {
    const parts = ["frag", "mented ✓ ", text(70_000)];
    ws.send(parts[0], { fin: false });
    ws.send(parts[1], { fin: false });
    ws.send(parts[2], { fin: true });
    await expectText(next, parts.join(""));
  });

  await check("fragmented binary (3 frames, 200 KiB)", async () => {
    const parts = [randomBytes(1), randomBytes(70_000), randomBytes(200 * 1024 - 70_001)];
    ws.send(parts[0], { binary: true, fin: false });
    ws.send(parts[1], { binary: true, fin: false });
    ws.send(parts[2], { binary: true, fin: true });
    await expectBinary(next, Buffer.concat(parts));
  });

  await check("ping -> pong with the same payload", async () => {
    const payload = Buffer.from("wssd interop ping");
    const got = pong(ws, payload);
    ws.ping(payload);
    await got;
  });

  await check("ping of 125 bytes -> pong", async () => {
    const payload = randomBytes(125);
    const got = pong(ws, payload);
    ws.ping(payload);
    await got;
  });

  await check("ping between the fragments of a message", async () => {
    const payload = Buffer.from("between fragments");
    const got = pong(ws, payload);
    ws.send("first half, ", { fin: false });
    ws.ping(payload);
    ws.send("second half", { fin: true });
    await got;
    await expectText(next, "first half, second half");
  });

  await check("close 4000 -> server echoes 4000", async () => {
    const closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    closing = true;
    ws.close(4000, "bye");
    const { code, reason } = await closed;
    if (code !== 4000) fail(`close code ${code} (reason ${JSON.stringify(reason)}); want 4000`);
  });
} catch (err) {
  fail(err.stack ?? String(err));
}

checks.stop();
console.log(`node echo: all ${checks.passed} checks passed`);
