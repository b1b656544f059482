/**
 * The Worker: a Hono router that authenticates, validates and hands each participant's traffic to
 * its Durable Object. Sockets are upgraded inside the object (hibernation API); everything else is
 * typed RPC on the object's stub.
 */
import { env as startupEnv } from "cloudflare:workers";
import { Hono } from "hono";
import type { Env } from "./env.js";
import { ConfigError, parseConfig } from "./config/config.js";
import { CONNECT_TOKEN_DEFAULT_TTL_S } from "./config/limits.js";
import { offeredProtocols, selectProtocol } from "./protocol/subprotocol.js";
import { authorizeParticipant, devModeWarning, isLocalDev, signingSecret } from "./router/auth.js";
import {
  eventsQuery,
  isParticipantId,
  replyAuthRefusal,
  replyError,
  reply,
  requireAdmin,
  requireAllowedOrigin,
  validParticipantId,
  webhookSeq,
  webhooksQuery,
  type AppEnv,
} from "./router/respond.js";
import { parseTokenRequest, signConnectToken } from "./router/tokens.js";
import { chooseRoom, withRoomHeader } from "./rooms/membership.js";
import { rooms } from "./rooms/routes.js";
import { parseRateOverrides } from "./session/connections.js";
import { parseCheckRequest } from "./checks/window.js";
import { SIMULATED_LEVELS, type SimulatedLevel } from "./simulator/upstream-simulator.js";
import { playground } from "./playground/routes.js";
import { ops } from "./ops/routes.js";
import { errorMessage, log } from "./shared/log.js";

export { ParticipantSession } from "./session/participant-session.js";
export { UpstreamSimulator } from "./simulator/upstream-simulator.js";
export { RoomObject } from "./rooms/room-object.js";
export { RoomDirectory } from "./rooms/directory-object.js";

// Development mode says so when the Worker starts, and again on every `ready` event.
const warning = devModeWarning(startupEnv as Env);
if (warning) log("warn", warning);

const app = new Hono<AppEnv>();

app.onError((err, c) => {
  log("error", "request failed", { path: new URL(c.req.url).pathname, reason: errorMessage(err) });
  return replyError(c, 500, "internal", "internal error");
});
app.notFound((c) => replyError(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

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
    return replyError(c, 503, "misconfigured", err.message);
  }
  await next();
});
app.use("/v1/participants/:id/*", validParticipantId);

const participant = (env: Env, id: string) => env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName(id));

// WebSocket routes: the participant stream (ingest + events) and the Cloudflare Realtime SFU adapter
// feeds (`pullTrackToWebSocket` with outputCodec jpeg / pcm: protobuf Packets, token as ?token=).
// The request goes to the object unchanged, and its 101 response comes back unchanged.
const sockets = new Hono<AppEnv>();
for (const route of ["stream", "sfu/video", "sfu/audio"]) {
  // A page of a foreign origin is refused (403) before anything else; servers send no Origin.
  sockets.get(`/:id/${route}`, requireAllowedOrigin, async (c) => {
    const id = c.req.param("id");
    // Auth first: a browser cannot see the status of a refused upgrade, so the SDK checks with a GET.
    const auth = await authorizeParticipant(c.var.config, c.req.raw, id, route === "stream" ? "stream" : "sfu");
    if (!auth.ok) return replyAuthRefusal(c, auth);
    const protocol = selectProtocol(offeredProtocols(c.req.header("sec-websocket-protocol")));
    if (!protocol.ok) return replyError(c, 400, "bad_subprotocol", protocol.message);
    const rates = route === "stream" ? parseRateOverrides(new URL(c.req.url).searchParams, c.var.config.video) : null;
    if (rates && !rates.ok) return replyError(c, 400, "bad_rate", rates.message);
    // The room (docs/DESIGN.md §12): the token's claim, or ?room= in development mode without tokens.
    const tokensOptional = isLocalDev(c.var.config, c.req.raw) && !c.var.config.connectTokenSecret;
    const room = chooseRoom(auth.room, new URL(c.req.url).searchParams.get("room"), tokensOptional);
    if (!room.ok) return replyError(c, 400, "bad_room", room.message);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
      return replyError(c, 426, "upgrade_required", "this endpoint is a WebSocket: send Upgrade: websocket");
    return participant(c.env, id).fetch(withRoomHeader(c.req.raw, room.room));
  });
}

// Management routes (admin key), typed RPC on the participant's object.
const management = new Hono<AppEnv>();
management.use("*", requireAdmin);
// Every call names its participant: the object checks it against its stored session (an object its
// alarm woke may not know the name it was addressed by).
management.get("/:id", async (c) => {
  const id = c.req.param("id");
  return reply(c, await participant(c.env, id).snapshot(id));
});
management.get("/:id/events", eventsQuery, async (c) => {
  const id = c.req.param("id");
  return reply(c, await participant(c.env, id).history(c.req.valid("query"), id));
});
management.get("/:id/webhooks", webhooksQuery, async (c) => {
  const id = c.req.param("id");
  return reply(c, await participant(c.env, id).webhooks(c.req.valid("query"), id));
});
management.post("/:id/webhooks/:seq/redeliver", webhookSeq, async (c) => {
  const id = c.req.param("id");
  return reply(c, await participant(c.env, id).redeliver(c.req.valid("param").seq, id));
});
management.post("/:id/checks", async (c) => {
  const id = c.req.param("id");
  const body = parseCheckRequest(await c.req.text());
  if (!body.ok) return replyError(c, 400, body.error ?? "bad_check", body.message);
  const answer = await participant(c.env, id).check(body.durationS, id);
  if (!answer.ok) return reply(c, answer);
  const { check_id, until_ms, joined } = answer.value;
  return c.json({ check_id, until_ms }, joined ? 200 : 201);
});
management.delete("/:id", async (c) => {
  const id = c.req.param("id");
  return reply(c, await participant(c.env, id).end(id));
});

app.route("/v1/participants", sockets);
app.route("/v1/participants", management);
app.route("/v1/rooms", rooms);

app.post("/v1/tokens", requireAdmin, async (c) => {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    const shape = '{"participant_id": "...", "ttl_s": 3600, "scope": "stream" | "sfu" | "watch", "room": "..."}';
    return replyError(c, 400, "bad_json", `body must be JSON: ${shape}`);
  }
  const request = parseTokenRequest(body, CONNECT_TOKEN_DEFAULT_TTL_S, isParticipantId);
  if (!request.ok) return replyError(c, 400, request.error, request.message);
  const { participantId, ttlS, scope, room } = request;
  const secret = signingSecret(c.var.config, c.req.raw);
  if (!secret)
    return replyError(c, 503, "misconfigured", "CONNECT_TOKEN_SECRET is not set, so no connect token can be minted");
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + ttlS;
  const named = { ...(scope !== undefined ? { scope } : {}), ...(room !== undefined ? { room } : {}) };
  const token = await signConnectToken(secret, { participantId, issuedAtS: issuedAt, expiresAtS: expiresAt, ...named });
  return c.json({ token, expires_at: expiresAt, ...named });
});

// Development-only simulator controls (docs/DESIGN.md §9): 404 unless the simulator is active.
const simulator = new Hono<AppEnv>();
simulator.use("*", async (c, next) => {
  if (!c.var.config.simulated)
    return replyError(c, 404, "not_found", "the simulator only exists in DEV_MODE without DATASPIKE_API_KEY");
  await next();
});
// Open on a loopback host without secrets (the playground's buttons); the admin key anywhere else.
simulator.use("*", requireAdmin);
simulator.use("/:id", validParticipantId);
const simulatorOf = (env: Env, id: string) => env.UPSTREAM_SIMULATOR.get(env.UPSTREAM_SIMULATOR.idFromName(id));
simulator.post("/:id", async (c) => {
  let level: unknown;
  try {
    level = ((await c.req.json()) as { level?: unknown } | null)?.level;
  } catch {
    return replyError(c, 400, "bad_json", 'body must be JSON: {"level": "clear" | "suspicious" | "alert" | "error"}');
  }
  if (typeof level !== "string" || !SIMULATED_LEVELS.includes(level as SimulatedLevel)) {
    return replyError(c, 400, "bad_level", `level must be one of ${SIMULATED_LEVELS.join(", ")}`);
  }
  return c.json(await simulatorOf(c.env, c.req.param("id")).steer(level as SimulatedLevel));
});
simulator.get("/:id", async (c) => c.json(await simulatorOf(c.env, c.req.param("id")).stats()));
app.route("/v1/dev/simulator", simulator);

// The playground page at GET / (webcam + microphone, live state, simulator controls in dev mode).
app.route("/", playground);
// The operations view at GET /rooms and /rooms/:room (docs/DESIGN.md §12).
app.route("/", ops);

export default app satisfies ExportedHandler<Env>;
