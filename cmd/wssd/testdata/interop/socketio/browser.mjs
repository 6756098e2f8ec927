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
import os from "node:os";
import path from "node:path";

import { Driver, titleAndLog } from "../browser/launch.mjs";

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

let page;

const d = new Driver({ name: "socket.io browser", tmpPrefix: "wssd-interop-socketio-", caFile, executable, timeoutMs: TIMEOUT_MS, stepMs: STEP_MS });
d.report(() => page, path.join(os.tmpdir(), `wssd-interop-socketio-${process.pid}.png`), titleAndLog);

// open launches Chromium, trusting the CA if trust is set, and opens the
// page, whose console it watches.
async function open(name, trust) {
  const context = await d.launch(name, trust);
  page = d.watch(await context.newPage());
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

await d.check("without the CA the page cannot connect", async () => {
  const context = await open("untrusted", false);
  const title = await load();
  if (title === "ok") throw new Error(`the page connected to ${serverURL} without the CA: is Chromium validating certificates?`);
  if (!d.consoleLines.some((l) => /ERR_CERT_AUTHORITY_INVALID/.test(l))) {
    throw new Error(`want net::ERR_CERT_AUTHORITY_INVALID in the console; title ${JSON.stringify(title)}`);
  }
  await context.close();
  page = undefined;
});

const sockets = [];
const polls = [];
let context;
await d.check("launch Chromium trusting the CA", async () => {
  context = await open("trusted", true);
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("request", (r) => {
    if (r.url().includes("transport=polling")) polls.push(r.url());
  });
});

await d.check(`page.html against ${serverURL}: title "ok"`, async () => {
  const title = await load();
  if (title !== "ok") throw new Error(`title ${JSON.stringify(title)}`);
  const lines = await page.evaluate(() => document.getElementById("log").textContent);
  console.log(lines.trimEnd().replace(/^/gm, "     "));
});

await d.check("the page used wss:// and https:// polling", async () => {
  const origin = new URL(serverURL);
  const wss = sockets.filter((u) => u.startsWith(`wss://${origin.host}/socket.io/`));
  const https = polls.filter((u) => u.startsWith(`https://${origin.host}/socket.io/`));
  if (wss.length === 0) throw new Error(`no wss://${origin.host}/socket.io/ socket; sockets: ${JSON.stringify(sockets)}`);
  if (https.length === 0) throw new Error(`no https://${origin.host}/socket.io/ polling request; requests: ${JSON.stringify(polls.slice(0, 5))}`);
  console.log(`     ${wss.length} websockets, ${https.length} polling requests`);
});

d.stop();
const version = context.browser()?.version() ?? executable;
await context.close();
d.cleanup();
console.log(`socket.io browser (Chromium ${version}): all ${d.passed} checks passed`);
