// checks.mjs: the checks of a Node client (echo.mjs, deflate.mjs), run in
// order: each prints "ok   NAME" once it passes; a failure prints "FAIL
// CLIENT: CHECK: REASON" and exits 1, and so does the run's time limit.
export class Checks {
  current = "start"; // the check under way
  passed = 0;

  // client names the client in its failures; it fails after timeoutMs.
  constructor(client, timeoutMs) {
    this.client = client;
    this.overall = setTimeout(() => this.fail(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
  }

  fail = (msg) => {
    console.error(`FAIL ${this.client}: ${this.current}: ${msg}`);
    process.exit(1);
  };

  check = async (name, fn) => {
    this.current = name;
    await fn();
    this.passed++;
    console.log(`ok   ${name}`);
  };

  // stop ends the time limit, once the checks have passed.
  stop() {
    clearTimeout(this.overall);
  }
}
