// page.mjs: loads wssd's page over https:// in headless Chromium (driven by
// playwright-core from ../node) and checks that its script talks to /echo
// over wss://. Chromium trusts the dev CA for real: it is added as a trusted
// CA (certutil -t C,,) to the NSS database in a fresh HOME, and Chromium
// validates the chain; no certificate error is ignored.
//
//   node page.mjs wss://localhost:PORT/echo DATA_DIR/dev-ca.pem [CHROMIUM]
//
// CHROMIUM defaults to $WSSD_CHROMIUM or /usr/bin/chromium. Needs certutil
// (Debian's libnss3-tools). Exits 0 when every check passes, 1 with the
// failed check, the page's state and a screenshot's path otherwise, and 1
// after 45 s at the latest: it never hangs.
import os from "node:os";
import path from "node:path";

import { Driver } from "./launch.mjs";

const TIMEOUT_MS = 45_000;
const STEP_MS = 10_000;

const [echoURL, caFile, executable = process.env.WSSD_CHROMIUM || "/usr/bin/chromium"] = process.argv.slice(2);
if (!echoURL || !caFile) {
  console.error("usage: node page.mjs wss://HOST:PORT/echo CA_FILE [CHROMIUM]");
  process.exit(2);
}
const pageURL = (() => {
  const u = new URL(echoURL);
  if (u.protocol !== "wss:") {
    console.error(`FAIL chromium page: ${echoURL} is not a wss:// URL`);
    process.exit(2);
  }
  u.protocol = "https:";
  u.pathname = "/";
  return u.href;
})();

let context; // the running browser, if any
let page;

const d = new Driver({ name: "chromium page", tmpPrefix: "wssd-interop-chromium-", caFile, executable, timeoutMs: TIMEOUT_MS, stepMs: STEP_MS });
d.report(() => page, path.join(os.tmpdir(), `wssd-interop-page-${process.pid}.png`), async (p) => {
  const state = await p.evaluate(() => ({
    url: location.href,
    title: document.title,
    status: document.getElementById("status")?.textContent,
    log: document.getElementById("log")?.textContent,
  }));
  return [`  page: ${JSON.stringify(state)}`];
});

async function waitFor(what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: STEP_MS });
  } catch (err) {
    throw new Error(`${what} within ${STEP_MS / 1000} s: ${err.message.split("\n")[0]}`);
  }
}

const logHas = (line) => (document.getElementById("log")?.textContent ?? "").split("\n").includes(line);

await d.check("untrusted without the CA", async () => {
  context = await d.launch("untrusted", false);
  page = await context.newPage();
  let err;
  try {
    await page.goto(pageURL, { timeout: STEP_MS });
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`${pageURL} loaded without the dev CA: is Chromium validating certificates?`);
  if (!/ERR_CERT_AUTHORITY_INVALID/.test(err.message)) throw new Error(`want net::ERR_CERT_AUTHORITY_INVALID, got ${err.message.split("\n")[0]}`);
  await context.close();
  context = page = undefined;
});

await d.check("launch Chromium trusting the CA", async () => {
  context = await d.launch("trusted", true);
  page = d.watch(await context.newPage());
});

const sockets = [];
page.on("websocket", (ws) => sockets.push(ws.url()));

await d.check(`load ${pageURL}`, async () => {
  const resp = await page.goto(pageURL, { timeout: STEP_MS });
  if (!resp || resp.status() !== 200) throw new Error(`status ${resp?.status()}; want 200`);
  const sec = await resp.securityDetails();
  if (!sec) throw new Error("the page was not loaded over TLS");
  console.log(`     ${sec.protocol}, certificate ${JSON.stringify(sec.subjectName)} issued by ${JSON.stringify(sec.issuer)}`);
});

await d.check('#status shows "open"', () =>
  waitFor('#status "open"', () => document.getElementById("status")?.textContent === "open"),
);

await d.check('#log shows "echo: hello from the page"', async () => {
  await waitFor('"echo: hello from the page" in #log', logHas, "echo: hello from the page");
  const title = await page.title();
  if (title !== "wssd: hello from the page") throw new Error(`title ${JSON.stringify(title)}; want "wssd: hello from the page"`);
});

await d.check("the page's socket is wss://", async () => {
  const want = new URL("/echo", pageURL.replace(/^https:/, "wss:")).href;
  if (!sockets.includes(want)) throw new Error(`sockets opened: ${JSON.stringify(sockets)}; want ${want}`);
});

const typed = "typed in Chromium ✓ 🚀";
await d.check(`type into #msg and send: "echo: ${typed}"`, async () => {
  await page.fill("#msg", typed, { timeout: STEP_MS });
  await page.click("#f button", { timeout: STEP_MS });
  await waitFor(`"echo: ${typed}" in #log`, logHas, `echo: ${typed}`);
  const title = await page.title();
  if (title !== `wssd: ${typed}`) throw new Error(`title ${JSON.stringify(title)}; want "wssd: ${typed}"`);
});

await d.check("#status still open", async () => {
  const status = await page.textContent("#status", { timeout: STEP_MS });
  if (status !== "open") throw new Error(`#status is ${JSON.stringify(status)}; want "open"`);
});

d.stop();
await context.close();
d.cleanup();
console.log(`chromium page (${context.browser()?.version() ?? executable}): all ${d.passed} checks passed`);
