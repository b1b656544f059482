/**
 * Request authentication for the router: connect tokens for participant sockets, the admin key for
 * management routes. Fails closed outside DEV_MODE (parseConfig already refuses missing secrets).
 */
import type { Config } from "../config/config.js";
import { safeEqual, verifyConnectToken } from "./tokens.js";

/** Used to sign tokens in DEV_MODE when no CONNECT_TOKEN_SECRET is configured. Never in production. */
export const DEV_CONNECT_TOKEN_SECRET = "dev-mode-insecure-connect-token-secret";

export type AuthResult = { ok: true } | { ok: false; status: 401; message: string };

export function bearer(request: Request): string | null {
  const header = request.headers.get("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}

export function tokenSecret(config: Config): string {
  return config.connectTokenSecret ?? DEV_CONNECT_TOKEN_SECRET;
}

/** A participant socket: `Authorization: Bearer <token>` or `?token=` (browsers cannot set headers). */
export async function authorizeParticipant(config: Config, request: Request, participantId: string): Promise<AuthResult> {
  const token = bearer(request) ?? new URL(request.url).searchParams.get("token");
  if (!token) {
    if (config.devMode && !config.connectTokenSecret) return { ok: true };
    return { ok: false, status: 401, message: "a connect token is required (Authorization: Bearer <token> or ?token=); mint one with POST /v1/tokens" };
  }
  const check = await verifyConnectToken(tokenSecret(config), token, participantId, Math.floor(Date.now() / 1000));
  return check.ok ? { ok: true } : { ok: false, status: 401, message: `connect token rejected: ${check.reason}` };
}

/** Management routes: `Authorization: Bearer <ADMIN_API_KEY>`; open only in DEV_MODE without a key. */
export function authorizeAdmin(config: Config, request: Request): AuthResult {
  if (!config.adminApiKey) {
    return config.devMode ? { ok: true } : { ok: false, status: 401, message: "ADMIN_API_KEY is not configured" };
  }
  const key = bearer(request);
  if (key && safeEqual(key, config.adminApiKey)) return { ok: true };
  return { ok: false, status: 401, message: "management routes need Authorization: Bearer <ADMIN_API_KEY>" };
}
