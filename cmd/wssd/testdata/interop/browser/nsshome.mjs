// nssHome makes, under dir, a HOME whose NSS database (~/.pki/nssdb, where
// Chromium on Linux looks for the user's certificates) trusts caFile as a
// CA for TLS servers if trust is set, and is empty otherwise; certutil
// (libnss3-tools) does it, each call within stepMs. Shared by the
// browser drivers.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export function nssHome(dir, caFile, trust, stepMs) {
  const db = `sql:${path.join(dir, ".pki", "nssdb")}`;
  fs.mkdirSync(path.join(dir, ".pki", "nssdb"), { recursive: true });
  const certutil = (...args) => {
    try {
      execFileSync("certutil", ["-d", db, ...args], { stdio: "pipe", timeout: stepMs });
    } catch (err) {
      throw new Error(`certutil ${args.join(" ")}: ${err.code === "ENOENT" ? "not found (install libnss3-tools)" : (err.stderr?.toString() || err.message)}`);
    }
  };
  certutil("-N", "--empty-password");
  if (trust) certutil("-A", "-t", "C,,", "-n", "wssd dev CA", "-i", caFile);
  return dir;
}
