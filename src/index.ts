/**
 * The Worker: a Hono router that authenticates, validates and hands each participant's traffic to
 * its Durable Object. Client sockets are accepted inside the object (hibernation API), never here.
 */
import { Hono, type Context } from "hono";
import type { Env } from "./env.js";
import {
  CONNECT_TOKEN_DEFAULT_TTL_S,
  CONNECT_TOKEN_MAX_TTL_S,
  ConfigError,
  PARTICIPANT_ID_PATTERN,
  parseConfig,
  type Config,
} from "./config.js";
import { authorizeAdmin, authorizeParticipant, tokenSecret, type AuthResult } from "./router/auth.js";
import { signConnectToken } from "./router/tokens.js";
import { PARTICIPANT_HEADER } from "./session/participant-session.js";
import { parseRateOverrides } from "./session/connections.js";
import { SIMULATED_LEVELS, type SimulatedLevel } from "./simulator/upstream-simulator.js";
import { playground } from "./playground/routes.js";
import { errorMessage, log } from "./log.js";

export { ParticipantSession } from "./session/participant-session.js";
export { UpstreamSimulator } from "./simulator/upstream-simulator.js";

type AppEnv = { Bindings: Env; Variables: { config: Config } };
const app = new Hono<AppEnv>();

const jsonError = (c: Context<AppEnv>, status: 400 | 401 | 404 | 413 | 426 | 500 | 503, error: string, message: string) =>
  c.json({ error, message }, status);

const denied = (c: Context<AppEnv>, auth: Exclude<AuthResult, { ok: true }>) => jsonError(c, auth.status, "unauthorized", auth.message);

app.onError((err, c) => {
  log("error", "request failed", { path: new URL(c.req.url).pathname, reason: errorMessage(err) });
  return c.json({ error: "internal", message: "internal error" }, 500);
});
app.notFound((c) => jsonError(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

app.get("/healthz", (c) => {
  try {
    const config = parseConfig(c.env);
    return c.json({ status: "ok", dev_mode: config.devMode, simulated: config.simulated });
  } catch (err) {
    if (err instanceof ConfigError) return c.json({ status: "misconfigured", problems: err.problems }, 503);
    throw err;
  }
});

// Everything below needs a valid configuration: fail closed with a clear message.
app.use("/v1/*", async (c, next) => {
  try {
    c.set("config", parseConfig(c.env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log("error", "refusing requests: invalid configuration", { problems: err.problems.join("; ") });
    return jsonError(c, 503, "misconfigured", err.message);
  }
  await next();
});

app.use("/v1/participants/:id/*", async (c, next) => {
  if (!PARTICIPANT_ID_PATTERN.test(c.req.param("id")!)) {
    return jsonError(c, 400, "bad_participant_id", "participant id must be 1-128 characters of [A-Za-z0-9._:-]");
  }
  await next();
});
app.use("/v1/participants/:id", async (c, next) => {
  if (!PARTICIPANT_ID_PATTERN.test(c.req.param("id")!)) {
    return jsonError(c, 400, "bad_participant_id", "participant id must be 1-128 characters of [A-Za-z0-9._:-]");
  }
  await next();
});

/** Forwards to the participant's object, telling it who it is; a 101 response passes through unchanged. */
function toParticipant(c: Context<AppEnv>, participantId: string, path: string): Promise<Response> {
  const ns = c.env.PARTICIPANT_SESSION;
  const stub = ns.get(ns.idFromName(participantId));
  const url = new URL(c.req.url);
  url.pathname = path;
  const request = new Request(url, c.req.raw);
  request.headers.set(PARTICIPANT_HEADER, participantId);
  return stub.fetch(request);
}

// WebSocket routes: the participant stream (ingest + events) and the Cloudflare Realtime SFU adapter
// feeds (`pullTrackToWebSocket` with outputCodec jpeg / pcm: protobuf Packets, token as ?token=).
for (const route of ["stream", "sfu/video", "sfu/audio"]) {
  app.get(`/v1/participants/:id/${route}`, async (c) => {
    const id = c.req.param("id");
    // Auth first: a browser cannot see the status of a refused upgrade, so the SDK checks with a GET.
    const auth = await authorizeParticipant(c.var.config, c.req.raw, id);
    if (!auth.ok) return denied(c, auth);
    if (route === "stream") {
      const rates = parseRateOverrides(new URL(c.req.url).searchParams, c.var.config.video);
      if (!rates.ok) return jsonError(c, 400, "bad_rate", rates.message);
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(c, 426, "upgrade_required", "this endpoint is a WebSocket: send Upgrade: websocket");
    }
    return toParticipant(c, id, `/${route}`);
  });
}

// Management routes (admin key): snapshot, history, webhook outbox, end of session.
const management: Array<["get" | "delete", string, string]> = [
  ["get", "", "/snapshot"],
  ["get", "/events", "/events"],
  ["get", "/webhooks", "/webhooks"],
  ["delete", "", "/session"],
];
for (const [method, route, target] of management) {
  app[method](`/v1/participants/:id${route}`, async (c) => {
    const auth = authorizeAdmin(c.var.config, c.req.raw);
    if (!auth.ok) return denied(c, auth);
    return toParticipant(c, c.req.param("id"), target);
  });
}

app.post("/v1/tokens", async (c) => {
  const auth = authorizeAdmin(c.var.config, c.req.raw);
  if (!auth.ok) return denied(c, auth);
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return jsonError(c, 400, "bad_json", 'body must be JSON: {"participant_id": "...", "ttl_s": 3600}');
  }
  const { participant_id: participantId, ttl_s: ttlRaw } = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof participantId !== "string" || !PARTICIPANT_ID_PATTERN.test(participantId)) {
    return jsonError(c, 400, "bad_participant_id", "participant_id must be 1-128 characters of [A-Za-z0-9._:-]");
  }
  const ttlS = ttlRaw === undefined ? CONNECT_TOKEN_DEFAULT_TTL_S : ttlRaw;
  if (typeof ttlS !== "number" || !Number.isInteger(ttlS) || ttlS < 1 || ttlS > CONNECT_TOKEN_MAX_TTL_S) {
    return jsonError(c, 400, "bad_ttl", `ttl_s must be an integer from 1 to ${CONNECT_TOKEN_MAX_TTL_S}`);
  }
  const expiresAt = Math.floor(Date.now() / 1000) + ttlS;
  const token = await signConnectToken(tokenSecret(c.var.config), participantId, expiresAt);
  return c.json({ token, expires_at: expiresAt });
});

// Development-only simulator controls (DESIGN.md §9): 404 unless the simulator is active.
app.use("/v1/dev/*", async (c, next) => {
  if (!c.var.config.simulated) return jsonError(c, 404, "not_found", "the simulator only exists in DEV_MODE without DATASPIKE_API_KEY");
  await next();
});

function simulator(c: Context<AppEnv>, participantId: string) {
  const ns = c.env.UPSTREAM_SIMULATOR;
  return ns.get(ns.idFromName(participantId));
}

app.post("/v1/dev/simulator/:id", async (c) => {
  const id = c.req.param("id");
  if (!PARTICIPANT_ID_PATTERN.test(id)) return jsonError(c, 400, "bad_participant_id", "participant id must be 1-128 characters of [A-Za-z0-9._:-]");
  let level: unknown;
  try {
    level = ((await c.req.json()) as { level?: unknown } | null)?.level;
  } catch {
    return jsonError(c, 400, "bad_json", 'body must be JSON: {"level": "clear" | "suspicious" | "alert" | "error"}');
  }
  if (typeof level !== "string" || !SIMULATED_LEVELS.includes(level as SimulatedLevel)) {
    return jsonError(c, 400, "bad_level", `level must be one of ${SIMULATED_LEVELS.join(", ")}`);
  }
  return simulator(c, id).fetch("https://simulator.internal/steer", { method: "POST", body: JSON.stringify({ level }) });
});

app.get("/v1/dev/simulator/:id", async (c) => {
  const id = c.req.param("id");
  if (!PARTICIPANT_ID_PATTERN.test(id)) return jsonError(c, 400, "bad_participant_id", "participant id must be 1-128 characters of [A-Za-z0-9._:-]");
  return simulator(c, id).fetch("https://simulator.internal/stats");
});

// The playground page at GET / (webcam + microphone, live state, simulator controls in dev mode).
app.route("/", playground);

export default app satisfies ExportedHandler<Env>;
