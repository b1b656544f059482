#!/usr/bin/env node
// `npm start`: the service on http://127.0.0.1:8787 in local development mode.
// With no DATASPIKE_API_KEY (in .dev.vars or the environment) objects stream to the built-in
// simulator and every `ready` event says the results are simulated.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const port = process.env.PORT ?? "8787";
const ip = process.env.HOST ?? "127.0.0.1";
const devVars = join(root, ".dev.vars");
const hasKey =
  Boolean(process.env.DATASPIKE_API_KEY) ||
  (existsSync(devVars) && /^\s*DATASPIKE_API_KEY\s*=\s*\S/m.test(readFileSync(devVars, "utf8")));

const args = ["dev", "--ip", ip, "--port", port, "--var", "DEV_MODE:true", "--show-interactive-dev-session=false"];
if (process.env.DATASPIKE_API_KEY) args.push("--var", `DATASPIKE_API_KEY:${process.env.DATASPIKE_API_KEY}`);

console.log(
  [
    "",
    "  deepfake-edge: local development mode (DEV_MODE=true)",
    hasKey
      ? "  upstream: the real Dataspike API (DATASPIKE_API_KEY is set)"
      : "  upstream: BUILT-IN SIMULATOR (no DATASPIKE_API_KEY): results are SIMULATED, steer them with\n" +
        `            curl -X POST http://${ip}:${port}/v1/dev/simulator/<participant> -d '{"level":"suspicious"}'`,
    `  playground: http://${ip}:${port}/`,
    `  stream:     ws://${ip}:${port}/v1/participants/<participant>/stream`,
    "",
  ].join("\n"),
);

const child = spawn(join(root, "node_modules", ".bin", "wrangler"), args, {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
