// browser.mjs: opens page.html in headless Chromium (driven by
// playwright-core from ../node) and waits for its title: "ok" when
// socket.io-client's browser bundle passed every check against the server
// in the page's ?url=. Chromium trusts the CA for real, as ../browser/page.mjs
// sets it up: in the NSS database of a fresh HOME (certutil -t C,,), no
// certificate error ignored. First, without the CA, the page must fail to
// connect.
//
//   node browser.mjs 'http://localhost:PORT/page.html?url=https://localhost:PORT2' CA_FILE [CHROMIUM]
//
// CHROMIUM defaults to $WSSD_CHROMIUM or /usr/bin/chromium. Needs certutil
// (Debian's libnss3-tools). Exits 0 when the page says ok and used both
// transports, 1 with the page's log, its console and a screenshot's path
// otherwise, and 1 after 60 s at the latest: it never hangs.
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

import { nssHome } from "../browser/nsshome.mjs";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const TIMEOUT_MS = 60_000;
const STEP_MS = 20_000; // for one step: a launch, a load, the page's run

const [pageURL, caFile, executable = process.env.WSSD_CHROMIUM || "/usr/bin/chromium"] = process.argv.slice(2);
if (!pageURL || !caFile) {
  console.error("usage: node browser.mjs 'http://HOST:PORT/page.html?url=https://HOST:PORT2' CA_FILE [CHROMIUM]");
  process.exit(2);
}
const serverURL = new URL(pageURL).searchParams.get("url");
if (!serverURL) {
  console.error(`browser.mjs: ${pageURL} has no ?url=`);
  process.exit(2);
}

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wssd-interop-socketio-"));
const screenshot = path.join(os.tmpdir(), `wssd-interop-socketio-${process.pid}.png`);
let current = "start";
let passed = 0;
let page;
const consoleLines = [];

let failing = false;

async function fail(msg) {
  if (failing) return;
  failing = true;
  const lines = [`FAIL socket.io browser: ${current}: ${msg}`];
  if (page) {
    try {
      const state = await page.evaluate(() => ({ title: document.title, log: document.getElementById("log")?.textContent }));
      lines.push(`  title: ${JSON.stringify(state.title)}`, "  log:", ...(state.log ?? "").trimEnd().split("\n").map((l) => `    ${l}`));
    } catch (err) {
      lines.push(`  page state unavailable: ${err.message.split("\n")[0]}`);
    }
    try {
      await page.screenshot({ path: screenshot, timeout: 5_000 });
      lines.push(`  screenshot: ${screenshot}`);
    } catch (err) {
      lines.push(`  no screenshot: ${err.message.split("\n")[0]}`);
    }
  }
  if (consoleLines.length > 0) lines.push("  console:", ...consoleLines.map((l) => `    ${l}`));
  console.error(lines.join("\n"));
  fs.rmSync(tmp, { recursive: true, force: true });
  // Playwright kills the browser it launched when this process exits.
  process.exit(1);
}

const overall = setTimeout(() => fail(`timed out after ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

async function check(name, fn) {
  current = name;
  try {
    await fn();
  } catch (err) {
    await fail(err.message.replace(/\x1b\[[0-9;]*m/g, ""));
  }
  passed++;
  console.log(`ok   ${name}`);
}

// home makes a HOME, under the run's temporary directory, whose NSS
// database trusts the CA if trust is set (see nsshome.mjs).
function home(name, trust) {
  return nssHome(path.join(tmp, name), caFile, trust, STEP_MS);
}

async function open(name, trust) {
  const context = await chromium.launchPersistentContext(path.join(tmp, `${name}-profile`), {
    executablePath: executable,
    headless: true,
    args: ARGS,
    env: { ...process.env, HOME: home(`${name}-home`, trust) },
    timeout: STEP_MS,
  });
  page = await context.newPage();
  consoleLines.length = 0;
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  return context;
}

// load opens the page and resolves with its final title.
async function load() {
  const resp = await page.goto(pageURL, { timeout: STEP_MS });
  if (!resp || resp.status() !== 200) throw new Error(`${pageURL}: status ${resp?.status()}; want 200`);
  try {
    await page.waitForFunction(() => document.title === "ok" || document.title.startsWith("fail"), null, { timeout: STEP_MS });
  } catch (err) {
    throw new Error(`the page's title is neither "ok" nor "fail: ..." after ${STEP_MS / 1000} s: ${err.message.split("\n")[0]}`);
  }
  return page.title();
}

await check("without the CA the page cannot connect", async () => {
  const context = await open("untrusted", false);
  const title = await load();
  if (title === "ok") throw new Error(`the page connected to ${serverURL} without the CA: is Chromium validating certificates?`);
  if (!consoleLines.some((l) => /ERR_CERT_AUTHORITY_INVALID/.test(l))) {
    throw new Error(`want net::ERR_CERT_AUTHORITY_INVALID in the console; title ${JSON.stringify(title)}`);
  }
  await context.close();
  page = undefined;
});

const sockets = [];
const polls = [];
let context;
await check("launch Chromium trusting the CA", async () => {
  context = await open("trusted", true);
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("request", (r) => {
    if (r.url().includes("transport=polling")) polls.push(r.url());
  });
});

await check(`page.html against ${serverURL}: title "ok"`, async () => {
  const title = await load();
  if (title !== "ok") throw new Error(`title ${JSON.stringify(title)}`);
  const lines = await page.evaluate(() => document.getElementById("log").textContent);
  console.log(lines.trimEnd().replace(/^/gm, "     "));
});

await check("the page used wss:// and https:// polling", async () => {
  const origin = new URL(serverURL);
  const wss = sockets.filter((u) => u.startsWith(`wss://${origin.host}/socket.io/`));
  const https = polls.filter((u) => u.startsWith(`https://${origin.host}/socket.io/`));
  if (wss.length === 0) throw new Error(`no wss://${origin.host}/socket.io/ socket; sockets: ${JSON.stringify(sockets)}`);
  if (https.length === 0) throw new Error(`no https://${origin.host}/socket.io/ polling request; requests: ${JSON.stringify(polls.slice(0, 5))}`);
  console.log(`     ${wss.length} websockets, ${https.length} polling requests`);
});

clearTimeout(overall);
const version = context.browser()?.version() ?? executable;
await context.close();
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`socket.io browser (Chromium ${version}): all ${passed} checks passed`);
