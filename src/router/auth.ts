/**
 * Request authentication for the router (docs/DESIGN.md §6), failing closed everywhere:
 *   - connect tokens for participant sockets, carried as `Authorization: Bearer`, as the subprotocol
 *     `bearer.<token>` (browsers) or as `?token=` (Realtime SFU adapters, which can do neither);
 *   - the admin key for management routes, token minting and the simulator controls;
 *   - the admin key or a `watch` token for a room's watch socket (docs/DESIGN.md §12).
 * Development mode relaxes this only for a request that is addressed to a loopback host (the request
 * URL's hostname) and comes from a loopback peer (CF-Connecting-IP), carries no foreign Origin, and
 * only while neither CONNECT_TOKEN_SECRET nor ADMIN_API_KEY is set; anywhere else it behaves like
 * production (isLocalDev).
 */
import type { Config } from "../config/config.js";
import { LOOPBACK_HOSTS } from "../config/limits.js";
import { originAllowed } from "./origin.js";
import { bearerFromProtocols, offeredProtocols } from "../protocol/subprotocol.js";
import { safeEqual, verifyConnectToken, type TokenFailure, type TokenScope } from "./tokens.js";

/**
 * Signs and verifies tokens where development mode's open auth applies (isLocalDev: the playground
 * mints one). Never used anywhere else, so it opens nothing: such requests need no token at all.
 */
export const DEV_CONNECT_TOKEN_SECRET = "dev-mode-loopback-only-connect-token-secret";

export type AuthResult =
  | { ok: true; /** The token's `room` claim, when a token was presented and carried one. */ room?: string }
  | { ok: false; status: 401 | 403; message: string; failure?: TokenFailure | "missing" };

/** True for a request to 127.0.0.1, localhost or [::1] (the URL's hostname, not a header). */
export function isLoopbackRequest(request: Request): boolean {
  return LOOPBACK_HOSTS.includes(new URL(request.url).hostname.toLowerCase());
}

/** An IPv4 address in 127.0.0.0/8, or `::1` (any spelling), or `::ffff:127.x.x.x`; brackets allowed. */
export function isLoopbackAddress(address: string): boolean {
  const ip = address.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return v4[1] === "127" && v4.slice(2).every((part) => Number(part) <= 255);
  const halves = ip.split("::");
  if (halves.length > 2) return false;
  const groups = (half: string | undefined) => (half ? half.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return false;
  const all = [...head, ...Array<string>(missing).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return false;
  return all.every((g, i) => parseInt(g, 16) === (i === 7 ? 1 : 0));
}

/**
 * The request comes from this machine: CF-Connecting-IP, the peer address the runtime sets, is a
 * loopback address. Missing (a service binding, a test calling the Worker directly) counts as not
 * loopback. Cloudflare's edge always overwrites the header; `wrangler dev` sets it from the socket but
 * keeps one the client sent itself (measured with wrangler 4.86), so this check stops a LAN peer only
 * together with the secrets `npm start` sets when it binds a non-loopback address (scripts/dev.mjs).
 */
export function isLoopbackPeer(request: Request): boolean {
  const peer = request.headers.get("cf-connecting-ip");
  return peer !== null && isLoopbackAddress(peer);
}

/**
 * Development mode's open auth applies to this request: DEV_MODE, neither CONNECT_TOKEN_SECRET nor
 * ADMIN_API_KEY set, addressed to a loopback host, from a loopback peer, and not sent by a page of a
 * foreign origin (a site open in the developer's browser can reach 127.0.0.1 too). The only place
 * auth is relaxed.
 */
export function isLocalDev(config: Config, request: Request): boolean {
  return (
    config.devMode &&
    !config.connectTokenSecret &&
    !config.adminApiKey &&
    isLoopbackRequest(request) &&
    isLoopbackPeer(request) &&
    originAllowed(config, request)
  );
}

export function bearer(request: Request): string | null {
  const header = request.headers.get("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}

/** The connect token of a socket upgrade, from the header, the subprotocol or the query, in that order. */
export function carriedToken(request: Request): string | null {
  return (
    bearer(request) ??
    bearerFromProtocols(offeredProtocols(request.headers.get("sec-websocket-protocol"))) ??
    new URL(request.url).searchParams.get("token")
  );
}

/** The secret that signs new tokens, or null when tokens cannot be minted for this request. */
export function signingSecret(config: Config, request: Request): string | null {
  if (config.connectTokenSecret) return config.connectTokenSecret;
  return isLocalDev(config, request) ? DEV_CONNECT_TOKEN_SECRET : null;
}

/** The secrets that verify tokens: the current one, then the one being rotated out. */
function verifyingSecrets(config: Config, request: Request): string[] {
  if (!config.connectTokenSecret) return isLocalDev(config, request) ? [DEV_CONNECT_TOKEN_SECRET] : [];
  return [config.connectTokenSecret, ...(config.connectTokenSecretPrevious ? [config.connectTokenSecretPrevious] : [])];
}

const MISSING =
  "a connect token is required (Authorization: Bearer <token>, the subprotocol bearer.<token>, or ?token= for SFU " +
  "adapters); mint one with POST /v1/tokens";

/** A participant socket upgrade for `endpoint` (`stream` or `sfu`). A token that is presented is always checked. */
export async function authorizeParticipant(
  config: Config,
  request: Request,
  participantId: string,
  endpoint: TokenScope,
): Promise<AuthResult> {
  const token = carriedToken(request);
  if (!token) {
    if (isLocalDev(config, request)) return { ok: true };
    return { ok: false, status: 401, message: MISSING, failure: "missing" };
  }
  const secrets = verifyingSecrets(config, request);
  if (secrets.length === 0)
    return {
      ok: false,
      status: 401,
      message: "connect tokens are not configured (CONNECT_TOKEN_SECRET is not set)",
      failure: "bad_signature",
    };
  const check = await verifyConnectToken(secrets, token, {
    participantId,
    endpoint,
    nowS: Math.floor(Date.now() / 1000),
  });
  if (!check.ok) {
    return { ok: false, status: 401, message: `connect token rejected: ${check.reason}`, failure: check.failure };
  }
  return check.claims.room !== undefined ? { ok: true, room: check.claims.room } : { ok: true };
}

/**
 * A room's watch socket: the admin key or a `watch` token for this room, as `Authorization: Bearer`
 * or the subprotocol `bearer.<…>` (never in the URL). 401 without valid credentials, 403 for a
 * valid token that does not open this room's watch socket (another room, or another scope).
 */
export async function authorizeWatch(config: Config, request: Request, room: string): Promise<AuthResult> {
  if (isLocalDev(config, request) && !config.secretsConfigured) return { ok: true };
  const offered = offeredProtocols(request.headers.get("sec-websocket-protocol"));
  const presented = bearer(request) ?? bearerFromProtocols(offered);
  if (!presented) {
    const message =
      "the watch socket needs the admin key or a watch token for this room " +
      "(Authorization: Bearer, or the subprotocol bearer.<…>)";
    return { ok: false, status: 401, message, failure: "missing" };
  }
  for (const key of [config.adminApiKey, config.adminApiKeyPrevious]) {
    if (key && (await safeEqual(presented, key))) return { ok: true };
  }
  const secrets = verifyingSecrets(config, request);
  if (secrets.length === 0) {
    return { ok: false, status: 401, message: "that is not the admin key, and connect tokens are not configured" };
  }
  const want = { participantId: null, endpoint: "watch", room, nowS: Math.floor(Date.now() / 1000) } as const;
  const check = await verifyConnectToken(secrets, presented, want);
  if (check.ok) return { ok: true };
  const status = check.failure === "wrong_room" || check.failure === "wrong_scope" ? 403 : 401;
  return { ok: false, status, message: `watch refused: ${check.reason}`, failure: check.failure };
}

/**
 * Management routes, token minting and the simulator controls: `Authorization: Bearer
 * <ADMIN_API_KEY>`. Open only where development mode's open auth applies and no secret at all is set
 * (a Dataspike or webhook secret closes them too).
 */
export async function authorizeAdmin(config: Config, request: Request): Promise<AuthResult> {
  if (isLocalDev(config, request) && !config.secretsConfigured) return { ok: true };
  if (!config.adminApiKey)
    return { ok: false, status: 401, message: "ADMIN_API_KEY is not configured, so management routes are closed" };
  const key = bearer(request);
  if (key && (await safeEqual(key, config.adminApiKey))) return { ok: true };
  if (key && config.adminApiKeyPrevious && (await safeEqual(key, config.adminApiKeyPrevious))) return { ok: true };
  return { ok: false, status: 401, message: "management routes need Authorization: Bearer <ADMIN_API_KEY>" };
}

/** The warning a Worker in development mode logs when it starts, or null in production. */
export function devModeWarning(vars: { DEV_MODE?: string }): string | null {
  if ((vars.DEV_MODE ?? "").trim().toLowerCase() !== "true") return null;
  return (
    "DEV_MODE=true: development mode. Authentication is relaxed for requests to 127.0.0.1, localhost or " +
    "[::1] from this machine (a loopback peer) while neither CONNECT_TOKEN_SECRET nor ADMIN_API_KEY is set; " +
    "every other request is treated as production. Never deploy with DEV_MODE set."
  );
}
