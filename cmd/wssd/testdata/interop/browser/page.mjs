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
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

import { nssHome } from "./nsshome.mjs";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

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

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wssd-interop-chromium-"));
const screenshot = path.join(os.tmpdir(), `wssd-interop-page-${process.pid}.png`);
let current = "start";
let passed = 0;
let context; // the running browser, if any
let page;
const consoleLines = [];

function cleanup() {
  fs.rmSync(tmp, { recursive: true, force: true });
}

let failing = false;

async function fail(msg) {
  if (failing) return;
  failing = true;
  const lines = [`FAIL chromium page: ${current}: ${msg}`];
  if (page) {
    try {
      const state = await page.evaluate(() => ({
        url: location.href,
        title: document.title,
        status: document.getElementById("status")?.textContent,
        log: document.getElementById("log")?.textContent,
      }));
      lines.push(`  page: ${JSON.stringify(state)}`);
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
  // Playwright kills the browser it launched when this process exits.
  cleanup();
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

function launch(name, homeDir) {
  return chromium.launchPersistentContext(path.join(tmp, `${name}-profile`), {
    executablePath: executable,
    headless: true,
    args: ARGS,
    env: { ...process.env, HOME: homeDir },
    timeout: STEP_MS * 2,
  });
}

async function waitFor(what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: STEP_MS });
  } catch (err) {
    throw new Error(`${what} within ${STEP_MS / 1000} s: ${err.message.split("\n")[0]}`);
  }
}

const logHas = (line) => (document.getElementById("log")?.textContent ?? "").split("\n").includes(line);

await check("untrusted without the CA", async () => {
  context = await launch("untrusted", home("untrusted-home", false));
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

await check("launch Chromium trusting the CA", async () => {
  context = await launch("trusted", home("trusted-home", true));
  page = await context.newPage();
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
});

const sockets = [];
page.on("websocket", (ws) => sockets.push(ws.url()));

await check(`load ${pageURL}`, async () => {
  const resp = await page.goto(pageURL, { timeout: STEP_MS });
  if (!resp || resp.status() !== 200) throw new Error(`status ${resp?.status()}; want 200`);
  const sec = await resp.securityDetails();
  if (!sec) throw new Error("the page was not loaded over TLS");
  console.log(`     ${sec.protocol}, certificate ${JSON.stringify(sec.subjectName)} issued by ${JSON.stringify(sec.issuer)}`);
});

await check('#status shows "open"', () =>
  waitFor('#status "open"', () => document.getElementById("status")?.textContent === "open"),
);

await check('#log shows "echo: hello from the page"', async () => {
  await waitFor('"echo: hello from the page" in #log', logHas, "echo: hello from the page");
  const title = await page.title();
  if (title !== "wssd: hello from the page") throw new Error(`title ${JSON.stringify(title)}; want "wssd: hello from the page"`);
});

await check("the page's socket is wss://", async () => {
  const want = new URL("/echo", pageURL.replace(/^https:/, "wss:")).href;
  if (!sockets.includes(want)) throw new Error(`sockets opened: ${JSON.stringify(sockets)}; want ${want}`);
});

const typed = "typed in Chromium ✓ 🚀";
await check(`type into #msg and send: "echo: ${typed}"`, async () => {
  await page.fill("#msg", typed, { timeout: STEP_MS });
  await page.click("#f button", { timeout: STEP_MS });
  await waitFor(`"echo: ${typed}" in #log`, logHas, `echo: ${typed}`);
  const title = await page.title();
  if (title !== `wssd: ${typed}`) throw new Error(`title ${JSON.stringify(title)}; want "wssd: ${typed}"`);
});

await check("#status still open", async () => {
  const status = await page.textContent("#status", { timeout: STEP_MS });
  if (status !== "open") throw new Error(`#status is ${JSON.stringify(status)}; want "open"`);
});

clearTimeout(overall);
await context.close();
cleanup();
console.log(`chromium page (${context.browser()?.version() ?? executable}): all ${passed} checks passed`);
