// browser.mjs: opens page.html in headless Chromium (driven by
// playwright-core from ../node) and waits for its title: "ok" when
// sockjs-client's browser bundle passed every check (echo and pub/sub) on
// each transport in the page's ?transports= against the server in its ?url=.
// Chromium trusts the CA for real, as ../browser/launch.mjs sets it up: in
// the NSS database of a fresh HOME (certutil -t C,,), no certificate error
// ignored. First, without the CA, the page must fail to connect.
//
//   node browser.mjs 'http://localhost:PORT/page.html?url=https://localhost:PORT2/sockjs&transports=T,...' CA_FILE [CHROMIUM]
//
// Then, for each session the page opened (window.sessions lists its id,
// chosen by the page), the browser's own record of the requests must show
// the transport at work: a wss:// socket to .../ID/websocket, requests to
// .../ID/xhr_streaming, /xhr, /eventsource, /jsonp or /htmlfile, made by
// the page itself, or for the iframe-* transports by the server's
// iframe.html in a frame of its own.
//
// The transports Chromium can use (sockjs-client 1.6.1): websocket,
// xhr-streaming, xhr-polling, eventsource, jsonp-polling, and, with the
// server's iframe.html loading this sockjs-client (its sockjs_url: the
// bundle the page is served with), iframe-eventsource, iframe-htmlfile and
// iframe-xhr-polling; htmlfile only when the page is of the server's origin
// (its frames call into the page). xdr-streaming and xdr-polling are
// Internet Explorer's.
//
// CHROMIUM defaults to $WSSD_CHROMIUM or /usr/bin/chromium. Needs certutil
// (Debian's libnss3-tools). Exits 0 when every check passes, 1 with the
// page's log, its console and a screenshot's path otherwise, and 1 after
// 150 s at the latest: it never hangs.
import os from "node:os";
import path from "node:path";

import { Driver, titleAndLog } from "../browser/launch.mjs";

const TIMEOUT_MS = 150_000;
const STEP_MS = 20_000; // for one step: a launch, a load
const RUN_MS = 100_000; // for the page's run over every transport

const [pageURL, caFile, executable = process.env.WSSD_CHROMIUM || "/usr/bin/chromium"] = process.argv.slice(2);
if (!pageURL || !caFile) {
  console.error("usage: node browser.mjs 'http://HOST:PORT/page.html?url=https://HOST:PORT2/sockjs&transports=T,...' CA_FILE [CHROMIUM]");
  process.exit(2);
}
const params = new URL(pageURL).searchParams;
const serverURL = params.get("url");
const transports = (params.get("transports") ?? "").split(",").filter(Boolean);
if (!serverURL || transports.length === 0) {
  console.error(`browser.mjs: ${pageURL} needs ?url= and ?transports=`);
  process.exit(2);
}
const server = new URL(serverURL);

let page;

const d = new Driver({ name: "sockjs browser", tmpPrefix: "wssd-interop-sockjs-", caFile, executable, timeoutMs: TIMEOUT_MS, stepMs: STEP_MS });
d.report(() => page, path.join(os.tmpdir(), `wssd-interop-sockjs-${process.pid}.png`), titleAndLog);

async function open(name, trust) {
  const context = await d.launch(name, trust);
  page = d.watch(await context.newPage());
  return context;
}

// load opens url and resolves with the page's final title.
async function load(url, runMs) {
  const resp = await page.goto(url, { timeout: STEP_MS });
  if (!resp || resp.status() !== 200) throw new Error(`${url}: status ${resp?.status()}; want 200`);
  try {
    await page.waitForFunction(() => document.title === "ok" || document.title.startsWith("fail"), null, { timeout: runMs });
  } catch (err) {
    throw new Error(`the page's title is neither "ok" nor "fail: ..." after ${runMs / 1000} s: ${err.message.split("\n")[0]}`);
  }
  return page.title();
}

await d.check("without the CA the page cannot connect", async () => {
  const context = await open("untrusted", false);
  const u = new URL(pageURL);
  u.searchParams.set("transports", transports[0]);
  let title;
  try {
    title = await load(u.href, STEP_MS);
  } catch (err) {
    // A page of the server's origin does not even load.
    if (u.protocol === "https:" && /ERR_CERT_AUTHORITY_INVALID/.test(err.message)) title = "not loaded";
    else throw err;
  }
  if (title === "ok") throw new Error(`the page connected to ${serverURL} without the CA: is Chromium validating certificates?`);
  if (title !== "not loaded" && !d.consoleLines.some((l) => /ERR_CERT_AUTHORITY_INVALID/.test(l))) {
    throw new Error(`want net::ERR_CERT_AUTHORITY_INVALID in the console; title ${JSON.stringify(title)}`);
  }
  await context.close();
  page = undefined;
});

const sockets = []; // wss:// URLs the page opened
const requests = []; // {url, from}: from is the URL of the frame that made it
let context;
await d.check("launch Chromium trusting the CA", async () => {
  context = await open("trusted", true);
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("request", (r) => {
    if (!r.url().startsWith(server.origin)) return;
    // A frame's own navigation is made by its parent.
    let from = r.frame();
    if (r.isNavigationRequest()) from = from.parentFrame() ?? from;
    requests.push({ url: r.url(), from: from === page.mainFrame() ? "page" : from.url() });
  });
});

await d.check(`page.html against ${serverURL}, ${transports.join(" ")}: title "ok"`, async () => {
  const title = await load(pageURL, RUN_MS);
  const lines = await page.evaluate(() => document.getElementById("log").textContent);
  console.log(lines.trimEnd().replace(/^/gm, "     "));
  if (title !== "ok") throw new Error(`title ${JSON.stringify(title)}`);
});

const ENDPOINTS = {
  "xhr-streaming": "xhr_streaming",
  "xhr-polling": "xhr",
  eventsource: "eventsource",
  "jsonp-polling": "jsonp",
  htmlfile: "htmlfile",
};

await d.check("each session's requests show its transport", async () => {
  const sessions = await page.evaluate(() => window.sessions);
  const lines = [];
  for (const { transport, app, id } of sessions) {
    const what = `${transport} ${app} (session ${id})`;
    if (transport === "websocket") {
      const want = new RegExp(`^wss://${server.host}${server.pathname}/[^/]+/[^/]+/${id}/websocket(\\?|$)`);
      if (!sockets.some((u) => want.test(u))) throw new Error(`${what}: no socket to ${want}; sockets: ${JSON.stringify(sockets)}`);
      lines.push(`${what}: wss:// socket`);
      continue;
    }
    const inIframe = transport.startsWith("iframe-");
    const endpoint = ENDPOINTS[transport.replace(/^iframe-/, "")];
    if (!endpoint) throw new Error(`${what}: no endpoint known for ${transport}`);
    const want = new RegExp(`^https://${server.host}${server.pathname}/[^/]+/[^/]+/${id}/${endpoint}(\\?|$)`);
    const mine = requests.filter((r) => want.test(r.url));
    if (mine.length === 0) throw new Error(`${what}: no request to ${want}`);
    for (const r of mine) {
      const fromIframe = r.from !== "page" && new URL(r.from).pathname.endsWith("/iframe.html");
      if (inIframe !== fromIframe) {
        throw new Error(`${what}: ${r.url} made by ${r.from === "page" ? "the page" : r.from}; want ${inIframe ? "the server's iframe.html" : "the page"}`);
      }
    }
    lines.push(`${what}: ${mine.length} requests to /${endpoint}${inIframe ? " from iframe.html" : ""}`);
  }
  console.log(lines.map((l) => `     ${l}`).join("\n"));
});

d.stop();
const version = context.browser()?.version() ?? executable;
await context.close();
d.cleanup();
console.log(`sockjs browser (Chromium ${version}): all ${d.passed} checks passed`);
