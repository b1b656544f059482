#!/usr/bin/env node
// `npm start`: the service on http://127.0.0.1:8787 in local development mode.
// With no DATASPIKE_API_KEY (in .dev.vars or the environment) objects stream to the built-in
// simulator and every `ready` event says the results are simulated. Bound to an address other
// machines can reach (HOST=0.0.0.0), authentication is required and the banner says so
// (scripts/dev-plan.mjs).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { devPlan } from "./dev-plan.mjs";

const root = new URL("..", import.meta.url).pathname;
const devVars = join(root, ".dev.vars");
const plan = devPlan({ env: process.env, devVarsText: existsSync(devVars) ? readFileSync(devVars, "utf8") : null });
console.log(plan.banner);

const child = spawn(join(root, "node_modules", ".bin", "wrangler"), plan.args, {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
