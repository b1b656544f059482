/**
 * Request authentication for the router (docs/DESIGN.md §6), failing closed everywhere:
 *   - connect tokens for participant sockets, carried as `Authorization: Bearer`, as the subprotocol
 *     `bearer.<token>` (browsers) or as `?token=` (Realtime SFU adapters, which can do neither);
 *   - the admin key for management routes, token minting and the simulator controls.
 * Development mode relaxes this only for requests to a loopback host (judged by the request URL's
 * hostname), and only while no secret is configured; anywhere else it behaves like production.
 */
import type { Config } from "../config/config.js";
import { LOOPBACK_HOSTS } from "../config/limits.js";
import { bearerFromProtocols, offeredProtocols } from "../protocol/subprotocol.js";
import { safeEqual, verifyConnectToken, type TokenFailure, type TokenScope } from "./tokens.js";

/**
 * Signs and verifies tokens on a loopback host in development mode when no CONNECT_TOKEN_SECRET is
 * set (the playground mints one). Never used for any other host, so it opens nothing: such requests
 * need no token at all.
 */
export const DEV_CONNECT_TOKEN_SECRET = "dev-mode-loopback-only-connect-token-secret";

export type AuthResult = { ok: true } | { ok: false; status: 401; message: string; failure?: TokenFailure | "missing" };

/** True for a request to 127.0.0.1, localhost or [::1] (the URL's hostname, not a header). */
export function isLoopbackRequest(request: Request): boolean {
  return LOOPBACK_HOSTS.includes(new URL(request.url).hostname.toLowerCase());
}

/** Development mode, and the request is for a loopback host: the only place auth is relaxed. */
export function isLocalDev(config: Config, request: Request): boolean {
  return config.devMode && isLoopbackRequest(request);
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
    if (isLocalDev(config, request) && !config.connectTokenSecret) return { ok: true };
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
  return check.ok
    ? { ok: true }
    : { ok: false, status: 401, message: `connect token rejected: ${check.reason}`, failure: check.failure };
}

/**
 * Management routes, token minting and the simulator controls: `Authorization: Bearer
 * <ADMIN_API_KEY>`. Open only in local development with no secret configured at all.
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
    "DEV_MODE=true: development mode. Authentication is relaxed for requests to 127.0.0.1, localhost and " +
    "[::1] while no secret is set; every other host is treated as production. Never deploy with DEV_MODE set."
  );
}
