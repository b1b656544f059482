#!/usr/bin/env node
// Creates integrations/pipecat/.venv from the pinned integrations/pipecat/requirements.txt when it is
// missing or was built from another requirements.txt (or Python), and does nothing otherwise. It
// never installs into the system's site-packages. Standard library only, so it runs before anything
// is installed.
//
//   node scripts/ensure-venv.mjs                      set up the virtual environment
//   node scripts/ensure-venv.mjs -- python -m pytest  then run a command from it, in integrations/pipecat
//
// The interpreter is $PIPECAT_PYTHON, else the first of python3.11, python3 on PATH (3.10 or newer).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const pkg = join(root, "integrations", "pipecat");
const venv = join(pkg, ".venv");
const requirements = join(pkg, "requirements.txt");
const marker = join(venv, ".requirements-sha256");
const venvPython = join(venv, "bin", "python");

function findPython() {
  const candidates = process.env.PIPECAT_PYTHON ? [process.env.PIPECAT_PYTHON] : ["python3.11", "python3"];
  for (const candidate of candidates) {
    try {
      const version = execFileSync(candidate, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
        encoding: "utf8",
      }).trim();
      const [major, minor] = version.split(".").map(Number);
      if (major === 3 && minor >= 10) return { python: candidate, version };
    } catch {
      // not on PATH
    }
  }
  console.error(`[setup] no Python 3.10+ found (tried ${candidates.join(", ")}); set PIPECAT_PYTHON`);
  process.exit(1);
}

const { python, version } = findPython();
const wanted = createHash("sha256").update(readFileSync(requirements)).update(`python ${version}\n`).digest("hex");
const have = existsSync(marker) && existsSync(venvPython) ? readFileSync(marker, "utf8").trim() : null;

if (have !== wanted) {
  console.log(`[setup] creating integrations/pipecat/.venv (Python ${version}) from the pinned requirements.txt ...`);
  rmSync(venv, { recursive: true, force: true });
  const run = (cmd, args) =>
    execFileSync(cmd, args, {
      cwd: pkg,
      stdio: "inherit",
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" },
    });
  run(python, ["-m", "venv", venv]);
  run(venvPython, ["-m", "pip", "install", "--quiet", "--no-input", "-r", requirements]);
  writeFileSync(marker, `${wanted}\n`);
  console.log("[setup] integrations/pipecat/.venv is ready");
}

const dashdash = process.argv.indexOf("--");
if (dashdash !== -1) {
  const [cmd, ...args] = process.argv.slice(dashdash + 1);
  if (!cmd) process.exit(0);
  const bin = cmd === "python" ? venvPython : existsSync(join(venv, "bin", cmd)) ? join(venv, "bin", cmd) : cmd;
  const result = spawnSync(bin, args, {
    cwd: pkg,
    stdio: "inherit",
    env: { ...process.env, VIRTUAL_ENV: venv, PATH: `${join(venv, "bin")}:${process.env.PATH ?? ""}` },
  });
  if (result.error) {
    console.error(`[setup] could not run ${cmd}: ${result.error.message}`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}
