#!/usr/bin/env node
// Installs what `npm start` and `npm test` need on a fresh machine, and nothing when it is there:
//   - node_modules from the committed lockfile (`npm ci`) when missing or older than the lockfile
//   - with --browser: Debian's chromium for the headless browser test (apt, as root)
// It uses only the standard library, so it runs before anything is installed.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.log("[setup] installing pinned dependencies with npm ci ...");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

if (process.argv.includes("--browser")) {
  const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(chromium)) {
    if (process.getuid?.() !== 0) {
      console.error(
        `[setup] ${chromium} is missing: install Debian's chromium (sudo apt-get install -y chromium) or set ` +
          `CHROMIUM_PATH.`,
      );
      process.exit(1);
    }
    console.log("[setup] installing Debian chromium for the browser test ...");
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"]);
  }
}
