// launch.mjs: what the Chromium drivers (page.mjs, deflate.mjs,
// ../socketio/browser.mjs, ../sockjs/browser.mjs) share: playwright-core from ../node, headless
// Chromium launched with a fresh profile and a HOME whose NSS database
// trusts the CA or not (nsshome.mjs), the page's console kept for a
// failure's report, the checks run in order, and the run's time limit.
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

import { nssHome } from "./nsshome.mjs";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const LAUNCH_MS = 20_000; // for a launch

// titleAndLog is a failure report's lines for a page that logs into its
// #log element: its title and that log (see Driver.report).
export async function titleAndLog(page) {
  const state = await page.evaluate(() => ({ title: document.title, log: document.getElementById("log")?.textContent }));
  return [`  title: ${JSON.stringify(state.title)}`, "  log:", ...(state.log ?? "").trimEnd().split("\n").map((l) => `    ${l}`)];
}

// A Driver runs one driver's checks. It makes a temporary directory, under
// os.tmpdir() with the name tmpPrefix..., for the profiles and HOMEs, and
// fails the run after timeoutMs. name is the driver's, in "FAIL name: check:
// reason"; caFile and executable are the CA to trust and the Chromium to
// launch; stepMs is the time each certutil call may take.
export class Driver {
  current = "start"; // the check under way
  passed = 0;
  consoleLines = []; // the watched page's console (see watch)
  #failing = false;

  constructor({ name, tmpPrefix, caFile, executable, timeoutMs, stepMs }) {
    Object.assign(this, { name, caFile, executable, stepMs });
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    this.overall = setTimeout(() => this.fail(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
  }

  // report has a failure's report add, when page() returns a page, the
  // lines state(page) resolves with and a screenshot of the page, saved to
  // the path screenshot.
  report(page, screenshot, state) {
    Object.assign(this, { page, screenshot, pageState: state });
  }

  // fail reports the failed check with msg, the page's state and console,
  // and exits 1.
  async fail(msg) {
    if (this.#failing) return;
    this.#failing = true;
    const lines = [`FAIL ${this.name}: ${this.current}: ${msg}`];
    const page = this.pageState && this.page?.();
    if (page) {
      try {
        lines.push(...(await this.pageState(page)));
      } catch (err) {
        lines.push(`  page state unavailable: ${err.message.split("\n")[0]}`);
      }
      try {
        await page.screenshot({ path: this.screenshot, timeout: 5_000 });
        lines.push(`  screenshot: ${this.screenshot}`);
      } catch (err) {
        lines.push(`  no screenshot: ${err.message.split("\n")[0]}`);
      }
    }
    if (this.consoleLines.length > 0) lines.push("  console:", ...this.consoleLines.map((l) => `    ${l}`));
    console.error(lines.join("\n"));
    // Playwright kills the browser it launched when this process exits.
    this.cleanup();
    process.exit(1);
  }

  // check runs fn as the check name and prints "ok   name", or fails with
  // the error fn throws.
  async check(name, fn) {
    this.current = name;
    try {
      await fn();
    } catch (err) {
      await this.fail(err.message.replace(/\x1b\[[0-9;]*m/g, ""));
    }
    this.passed++;
    console.log(`ok   ${name}`);
  }

  // launch starts Chromium with the profile tmp/NAME-profile and the HOME
  // tmp/NAME-home, whose NSS database trusts the CA if trust is set, and
  // resolves with its context.
  async launch(name, trust) {
    const home = nssHome(path.join(this.tmp, `${name}-home`), this.caFile, trust, this.stepMs);
    return chromium.launchPersistentContext(path.join(this.tmp, `${name}-profile`), {
      executablePath: this.executable,
      headless: true,
      args: ARGS,
      env: { ...process.env, HOME: home },
      timeout: LAUNCH_MS,
    });
  }

  // watch keeps page's console messages and uncaught errors, in place of
  // those kept before, for a failure's report; it returns page.
  watch(page) {
    this.consoleLines.length = 0;
    page.on("console", (m) => this.consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => this.consoleLines.push(`pageerror: ${e.message}`));
    return page;
  }

  // stop ends the time limit, once the checks have passed.
  stop() {
    clearTimeout(this.overall);
  }

  // cleanup removes the temporary directory.
  cleanup() {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
