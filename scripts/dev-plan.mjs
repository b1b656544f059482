// What `npm start` (scripts/dev.mjs) runs and says, as a pure function so it can be tested.
//
// Development mode opens auth only to requests from this machine (docs/DESIGN.md §6). When the
// service is bound to an address other machines can reach (HOST=0.0.0.0 for a phone), that is not
// enough: `wrangler dev` keeps a CF-Connecting-IP header a client sends itself, so a peer on the
// network could claim to be local. There the start script makes authentication required: it passes
// CONNECT_TOKEN_SECRET and ADMIN_API_KEY (from the environment, or generated for this run unless
// .dev.vars sets them), which end development mode's open auth everywhere, and says so.
import { randomBytes } from "node:crypto";

const LOOPBACK_BINDS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
/** The secrets whose presence ends development mode's open auth (src/router/auth.ts, isLocalDev). */
export const AUTH_SECRETS = ["CONNECT_TOKEN_SECRET", "ADMIN_API_KEY"];

/** True when `host` is an address only this machine can reach. */
export function isLoopbackBind(host) {
  return LOOPBACK_BINDS.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The names set (non-empty) in a .dev.vars text. */
export function devVarNames(text) {
  const names = new Set();
  for (const line of (text ?? "").split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S.*)?$/.exec(line);
    if (match && match[2] !== undefined && match[2].replace(/^["']|["']$/g, "").trim() !== "") names.add(match[1]);
  }
  return names;
}

/** A random secret of 32 URL-safe characters (what a subprotocol can carry, well over 16). */
export const randomSecret = () => randomBytes(24).toString("base64url");

/**
 * The wrangler arguments and the banner of `npm start`.
 * @param {{ env: Record<string, string | undefined>, devVarsText: string | null, secret?: () => string }} input
 */
export function devPlan({ env, devVarsText, secret = randomSecret }) {
  const port = env.PORT ?? "8787";
  const ip = env.HOST ?? "127.0.0.1";
  const fromFile = devVarNames(devVarsText);
  const hasKey = Boolean(env.DATASPIKE_API_KEY) || fromFile.has("DATASPIKE_API_KEY");
  const args = ["dev", "--ip", ip, "--port", port, "--var", "DEV_MODE:true", "--show-interactive-dev-session=false"];
  if (env.DATASPIKE_API_KEY) args.push("--var", `DATASPIKE_API_KEY:${env.DATASPIKE_API_KEY}`);
  const local = isLoopbackBind(ip);
  const shown = ip.includes(":") && !ip.startsWith("[") ? `[${ip}]` : ip;
  const wildcard = ["0.0.0.0", "::", "[::]"].includes(ip);
  const base = `http://${wildcard ? "<this machine's address>" : shown}:${port}`;
  const adminHeader = local ? "" : " -H 'Authorization: Bearer <admin key>'";
  const lines = [
    "",
    "  deepfake-edge: local development mode (DEV_MODE=true)",
    hasKey
      ? "  upstream: the real Dataspike API (DATASPIKE_API_KEY is set)"
      : "  upstream: BUILT-IN SIMULATOR (no DATASPIKE_API_KEY): results are SIMULATED, steer them with\n" +
        `            curl -X POST ${base}/v1/dev/simulator/<participant>${adminHeader} -d '{"level":"suspicious"}'`,
    `  playground: ${base}/`,
    `  stream:     ${base.replace("http", "ws")}/v1/participants/<participant>/stream`,
  ];
  const generated = {};
  if (local) {
    lines.push("  auth:       open to this machine only, while no CONNECT_TOKEN_SECRET or ADMIN_API_KEY is set");
  } else {
    for (const name of AUTH_SECRETS) {
      if (env[name]) args.push("--var", `${name}:${env[name]}`);
      else if (!fromFile.has(name)) {
        generated[name] = secret();
        args.push("--var", `${name}:${generated[name]}`);
      }
    }
    const admin = generated.ADMIN_API_KEY
      ? `${generated.ADMIN_API_KEY} (generated for this run; set your own in .dev.vars)`
      : `the ADMIN_API_KEY of ${env.ADMIN_API_KEY ? "the environment" : ".dev.vars"}`;
    lines.push(
      "",
      `  AUTH REQUIRED: bound to ${ip}, which other machines can reach. Development mode's open auth is for`,
      "  this machine only, so here every socket needs a connect token and every management route the admin key.",
      `  admin key:  ${admin}`,
      `  a token:    curl -X POST ${base}/v1/tokens${adminHeader} \\`,
      `                -d '{"participant_id":"phone"}'   then open ${base}/#token=<token>`,
    );
  }
  lines.push("");
  return { args, banner: lines.join("\n"), authRequired: !local, generated };
}
