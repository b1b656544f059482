/**
 * Connect tokens (docs/DESIGN.md §6): HS256 JWTs signed and verified with hono/jwt. Claims: `sub` = the
 * participant id, `exp` (required), `iat`, optional `nbf`, optional `room` (the participant's room,
 * docs/DESIGN.md §12), optional `scope` (`stream` opens only client sockets, `sfu` only Realtime SFU
 * adapter feeds, `watch` only the watch socket of the token's room; none opens stream and sfu).
 *
 * The library checks the structure, the header (`alg` must be HS256: `none`, RS256 and every other
 * algorithm are refused) and the signature. The time claims are checked here, because they need a
 * leeway the library does not have: `exp` and `nbf` with CONNECT_TOKEN_LEEWAY_S of clock skew,
 * `iat` not in the future, and the lifetime cap at verification as well as at minting, so a token
 * signed with a far `exp` (a leaked secret, a buggy minting service) is still refused.
 *
 * Reasons are fixed strings: the library's messages quote the token, which must never reach a
 * response or a log.
 */
import { sign, verify } from "hono/jwt";
import {
  CONNECT_TOKEN_LEEWAY_S,
  CONNECT_TOKEN_MAX_CHARS,
  CONNECT_TOKEN_MAX_TTL_S,
  ROOM_ID_PATTERN,
} from "../config/limits.js";

export const TOKEN_SCOPES = ["stream", "sfu", "watch"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export function isTokenScope(value: unknown): value is TokenScope {
  return typeof value === "string" && (TOKEN_SCOPES as readonly string[]).includes(value);
}

export interface ConnectClaims {
  participantId: string;
  /** Seconds since the epoch. */
  issuedAtS: number;
  expiresAtS: number;
  notBeforeS?: number;
  scope?: TokenScope;
  room?: string;
}

export function isRoomId(value: unknown): value is string {
  return typeof value === "string" && ROOM_ID_PATTERN.test(value);
}

/** Signs a connect token. Always with the current secret: a previous secret never signs. */
export async function signConnectToken(secret: string, claims: ConnectClaims): Promise<string> {
  if (claims.expiresAtS - Math.min(claims.issuedAtS, claims.notBeforeS ?? claims.issuedAtS) > CONNECT_TOKEN_MAX_TTL_S) {
    throw new RangeError(`a connect token lives at most ${CONNECT_TOKEN_MAX_TTL_S} s`);
  }
  return sign(
    {
      sub: claims.participantId,
      iat: claims.issuedAtS,
      exp: claims.expiresAtS,
      ...(claims.notBeforeS !== undefined ? { nbf: claims.notBeforeS } : {}),
      ...(claims.scope !== undefined ? { scope: claims.scope } : {}),
      ...(claims.room !== undefined ? { room: claims.room } : {}),
    },
    secret,
    "HS256",
  );
}

export type TokenFailure =
  | "malformed"
  | "no_expiry"
  | "unsupported_algorithm"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "lifetime_too_long"
  | "wrong_participant"
  | "wrong_scope"
  | "wrong_room";

const REASONS: Record<TokenFailure, string> = {
  malformed: "malformed token",
  no_expiry: "token has no exp claim (an expiry is required)",
  unsupported_algorithm: "unsupported token algorithm or header (only HS256 JWTs are accepted)",
  bad_signature: "bad token signature",
  expired: "token expired",
  not_yet_valid: "token not yet valid",
  issued_in_future: "token issued in the future",
  lifetime_too_long: `token lifetime over the maximum of ${CONNECT_TOKEN_MAX_TTL_S} s`,
  wrong_participant: "token is for another participant",
  wrong_scope: "token scope does not allow this endpoint",
  wrong_room: "token is for another room",
};

export type TokenCheck = { ok: true; claims: ConnectClaims } | { ok: false; failure: TokenFailure; reason: string };

const fail = (failure: TokenFailure): TokenCheck => ({ ok: false, failure, reason: REASONS[failure] });

export interface VerifyRequest {
  /** The participant whose socket is asked for (null for a room's watch socket). */
  participantId: string | null;
  /** The endpoint asked for: `stream` (client sockets), `sfu` (adapter feeds) or `watch`. */
  endpoint: TokenScope;
  /** For `watch`: the room watched. */
  room?: string;
  nowS: number;
}

/**
 * Verifies a token against the secrets in order (the current one, then the one being rotated out)
 * and checks its claims for this participant and endpoint.
 */
export async function verifyConnectToken(
  secrets: readonly string[],
  token: string,
  want: VerifyRequest,
): Promise<TokenCheck> {
  if (token.length === 0 || token.length > CONNECT_TOKEN_MAX_CHARS) return fail("malformed");
  let verified: { payload: unknown } | null = null;
  for (const secret of secrets) {
    try {
      verified = { payload: await verify(token, secret, { alg: "HS256", exp: false, nbf: false, iat: false }) };
      break;
    } catch (err) {
      const failure = libraryFailure(err);
      if (failure !== "bad_signature") return fail(failure);
    }
  }
  if (verified === null) return fail("bad_signature");
  const payload = verified.payload;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return fail("malformed");
  return checkClaims(payload as Record<string, unknown>, want);
}

/** The claims of a correctly signed token, with the leeway. */
export function checkClaims(payload: Record<string, unknown>, want: VerifyRequest): TokenCheck {
  const { sub, exp, nbf, iat, scope, room } = payload;
  const leeway = CONNECT_TOKEN_LEEWAY_S;
  const time = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (exp === undefined) return fail("no_expiry");
  if (typeof sub !== "string" || !time(exp) || (nbf !== undefined && !time(nbf)) || (iat !== undefined && !time(iat)))
    return fail("malformed");
  if (scope !== undefined && !isTokenScope(scope)) return fail("malformed");
  if (room !== undefined && !isRoomId(room)) return fail("malformed");
  if (exp + leeway <= want.nowS) return fail("expired");
  if (nbf !== undefined && nbf - leeway > want.nowS) return fail("not_yet_valid");
  if (iat !== undefined && iat - leeway > want.nowS) return fail("issued_in_future");
  // The lifetime counts from the earliest time the token names (or now, for a token naming none).
  const from = Math.min(want.nowS, iat ?? want.nowS, nbf ?? want.nowS);
  if (exp - from > CONNECT_TOKEN_MAX_TTL_S + leeway) return fail("lifetime_too_long");
  if (want.endpoint === "watch") {
    // Only a token minted for watching opens a watch socket, and only its own room's.
    if (scope !== "watch") return fail("wrong_scope");
    if (room !== want.room) return fail("wrong_room");
  } else {
    if (sub !== want.participantId) return fail("wrong_participant");
    if (scope !== undefined && scope !== want.endpoint) return fail("wrong_scope");
  }
  return {
    ok: true,
    claims: {
      participantId: sub,
      issuedAtS: iat ?? from,
      expiresAtS: exp,
      ...(nbf !== undefined ? { notBeforeS: nbf } : {}),
      ...(scope !== undefined ? { scope } : {}),
      ...(room !== undefined ? { room } : {}),
    },
  };
}

/** Maps hono/jwt's errors (by name: their messages quote the token) to a failure. */
function libraryFailure(err: unknown): TokenFailure {
  const name = err instanceof Error ? err.name : "";
  switch (name) {
    case "JwtTokenSignatureMismatched":
      return "bad_signature";
    case "JwtAlgorithmMismatch":
    case "JwtAlgorithmNotImplemented":
      return "unsupported_algorithm";
    case "JwtHeaderInvalid":
      // An `alg` outside the library's list (`none`, made-up names) makes the header invalid.
      return "unsupported_algorithm";
    default:
      return "malformed";
  }
}

/** Constant-time comparison for API keys (both sides hashed, so lengths leak nothing either). */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [x, y] = await Promise.all(
    [a, b].map(async (s) => new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)))),
  );
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= (x![i] as number) ^ (y![i] as number);
  return diff === 0;
}

/** A valid `POST /v1/tokens` body, or what is wrong with it. */
export type TokenRequest =
  | { ok: true; participantId: string; ttlS: number; scope?: TokenScope; room?: string }
  | { ok: false; error: string; message: string };

/**
 * `{"participant_id", "ttl_s", "scope", "room"}`: a participant token (scope `stream`, `sfu` or
 * none; `room` makes the participant a member of that room), or a `watch` token for `room` (its
 * participant_id is optional and only names the watcher).
 */
export function parseTokenRequest(
  body: unknown,
  defaultTtlS: number,
  isParticipantId: (v: unknown) => v is string,
): TokenRequest {
  const fields = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const { participant_id: participantId, ttl_s: ttlRaw, scope, room } = fields;
  if (scope !== undefined && !isTokenScope(scope)) {
    const message =
      'scope must be "stream" (client sockets), "sfu" (Realtime SFU adapter feeds) ' +
      'or "watch" (a room\'s watch socket), or absent for stream and sfu';
    return { ok: false, error: "bad_scope", message };
  }
  if (room !== undefined && !isRoomId(room)) {
    return { ok: false, error: "bad_room", message: "room must be 1-128 characters of [A-Za-z0-9._:-]" };
  }
  if (scope === "watch" && room === undefined) {
    return { ok: false, error: "bad_room", message: "a watch token needs the room it watches" };
  }
  const watcher = scope === "watch" && participantId === undefined;
  if (!watcher && !isParticipantId(participantId)) {
    const message = "participant_id must be 1-128 characters of [A-Za-z0-9._:-]";
    return { ok: false, error: "bad_participant_id", message };
  }
  const ttlS = ttlRaw === undefined ? defaultTtlS : ttlRaw;
  if (typeof ttlS !== "number" || !Number.isInteger(ttlS) || ttlS < 1 || ttlS > CONNECT_TOKEN_MAX_TTL_S) {
    return { ok: false, error: "bad_ttl", message: `ttl_s must be an integer from 1 to ${CONNECT_TOKEN_MAX_TTL_S}` };
  }
  return {
    ok: true,
    participantId: watcher ? "watcher" : (participantId as string),
    ttlS,
    ...(scope !== undefined ? { scope } : {}),
    ...(room !== undefined ? { room } : {}),
  };
}
