/**
 * The transport boundary of the SDK: the part of a WebSocket it uses (satisfied structurally by the
 * browser's WebSocket and by the `ws` package), socket factories for both, the stream URL, the
 * typed error for rejected auth, and connect-token claims. No DOM or Node imports.
 *
 * A token never goes in a URL: browsers carry it as the subprotocol `bearer.<token>` next to
 * `deepfake-edge.v1` (docs/DESIGN.md §6), Node sends `Authorization: Bearer`.
 */
import { clientProtocols } from "../protocol/subprotocol.js";
import { base64UrlDecode } from "../shared/base64.js";

/** Largest server event the SDK accepts (`ws` maxPayload): events are small JSON objects. */
export const CLIENT_MAX_EVENT_BYTES = 1_048_576;

/** WebSocket.readyState values (the same in browsers and `ws`). */
export const SOCKET_OPEN = 1;

/** The part of a WebSocket the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: { message?: unknown; error?: unknown }) => void): void;
}

/** Opens a socket to `url`, presenting `token` (undefined: no token) however the platform allows. */
export type SocketFactory = (url: string, token: string | undefined) => WebSocketLike;

/** Anything constructible like the browser's WebSocket (`new WebSocket(url, protocols)`). */
export type BrowserWebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

/**
 * Browsers cannot set headers on a WebSocket upgrade, so the token travels as a subprotocol:
 * `Sec-WebSocket-Protocol: deepfake-edge.v1, bearer.<token>`, which the server answers with
 * `deepfake-edge.v1`. The URL carries no token, so none lands in request logs. Defaults to
 * `globalThis.WebSocket`.
 */
export function browserSocketFactory(ctor?: BrowserWebSocketConstructor): SocketFactory {
  return (url, token) => {
    const Ctor = ctor ?? (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket;
    if (!Ctor)
      throw new Error(
        "no WebSocket implementation: pass socketFactory (in Node: nodeSocketFactory(WebSocket) from `ws`)",
      );
    return new Ctor(url, clientProtocols(token)) as WebSocketLike;
  };
}

/** The `ws` package's constructor signature (structural: the SDK does not import `ws`). */
export type NodeWebSocketConstructor = new (
  url: string,
  options: { headers: Record<string, string>; maxPayload?: number },
) => unknown;

/**
 * For Node with the `ws` package: the token goes in `Authorization: Bearer`, which keeps it out of
 * URLs and access logs. `import WebSocket from "ws"; nodeSocketFactory(WebSocket)`.
 */
export function nodeSocketFactory(ctor: NodeWebSocketConstructor): SocketFactory {
  return (url, token) =>
    new ctor(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      maxPayload: CLIENT_MAX_EVENT_BYTES,
    }) as WebSocketLike;
}

/** `ws(s)://host/v1/participants/<id>/stream` from the service's base URL (http(s) or ws(s)). */
export function streamUrl(baseUrl: string, participantId: string): string {
  const url = new URL(baseUrl);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new TypeError(`baseUrl must be http(s) or ws(s), got ${baseUrl}`);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/participants/${encodeURIComponent(participantId)}/stream`;
  url.search = "";
  url.hash = "";
  return url.toString();
}

/**
 * HTTP answers to the upgrade that no retry can change, so the client stops (AuthError): the token is
 * refused (401), or the connection is forbidden (403: a foreign origin, or a token not for this participant).
 */
export const REFUSED_UPGRADE_STATUSES: Readonly<Record<number, string>> = Object.freeze({
  401: "connect token rejected",
  403: "connection forbidden",
});

/** Whether an upgrade's HTTP status is a final refusal (REFUSED_UPGRADE_STATUSES). */
export function isRefusedUpgrade(status: number | null): status is number {
  return status !== null && REFUSED_UPGRADE_STATUSES[status] !== undefined;
}

/** The service refused the connection (HTTP 401 or 403 on the upgrade, or a token already expired). */
export class AuthError extends Error {
  override readonly name = "AuthError";
  constructor(
    message: string,
    /** 401 or 403 when the server answered; 0 when the SDK refused an expired token without connecting. */
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Whether the server refuses this connection: a GET without Upgrade to the socket's URL, which a server
 * that checks the origin and token first answers 403 or 401 for. That status, or null for any other
 * answer or a failure.
 */
export async function probeTokenRefusal(wsUrl: string, token: string | undefined): Promise<number | null> {
  try {
    const url = wsUrl.replace(/^ws/, "http");
    const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    await res.body?.cancel();
    return isRefusedUpgrade(res.status) ? res.status : null;
  } catch {
    return null;
  }
}

/**
 * The HTTP status of a refused upgrade, when the platform reports it: `ws` fails with
 * "Unexpected server response: 401". Browsers report nothing (null).
 */
export function refusedUpgradeStatus(event: { message?: unknown; error?: unknown }): number | null {
  const texts = [event.message, event.error instanceof Error ? event.error.message : undefined];
  for (const text of texts) {
    const match = typeof text === "string" ? /Unexpected server response: (\d{3})/.exec(text) : null;
    if (match) return Number(match[1]);
  }
  return null;
}

export interface TokenClaims {
  sub?: string;
  /** Expiry, seconds since the epoch. */
  exp?: number;
}

/** Reads (does not verify) the claims of a connect token (a JWT); null when it is not one. */
export function tokenClaims(token: string): TokenClaims | null {
  const payload = token.split(".")[1];
  if (payload === undefined || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(base64UrlDecode(payload)));
    if (typeof value !== "object" || value === null) return null;
    const { sub, exp } = value as Record<string, unknown>;
    return { ...(typeof sub === "string" ? { sub } : {}), ...(typeof exp === "number" ? { exp } : {}) };
  } catch {
    return null;
  }
}
