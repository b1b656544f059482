/**
 * WebSocket subprotocols of the client contract (docs/DESIGN.md §6). A browser cannot set headers on a
 * WebSocket upgrade, so it carries its connect token as a subprotocol:
 *   Sec-WebSocket-Protocol: deepfake-edge.v1, bearer.<token>
 * and the server answers `deepfake-edge.v1` (never the token). This keeps tokens out of URLs and so
 * out of request logs. Shared by the router, the participant object and the SDK. Pure.
 */
import { CONNECT_TOKEN_MAX_CHARS, WS_BEARER_PROTOCOL_PREFIX, WS_SUBPROTOCOL } from "../config/limits.js";

/** The protocols a client offers (the comma-separated Sec-WebSocket-Protocol request header). */
export function offeredProtocols(header: string | null | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/** The token carried as `bearer.<token>`, or null. */
export function bearerFromProtocols(protocols: readonly string[]): string | null {
  for (const protocol of protocols) {
    if (!protocol.startsWith(WS_BEARER_PROTOCOL_PREFIX)) continue;
    const token = protocol.slice(WS_BEARER_PROTOCOL_PREFIX.length);
    return token !== "" && token.length <= CONNECT_TOKEN_MAX_CHARS ? token : null;
  }
  return null;
}

/**
 * What a server answers to the offered protocols: `deepfake-edge.v1` when offered, nothing when no
 * protocol was offered, and a refusal when only others were (a browser would fail the socket).
 */
export function selectProtocol(
  protocols: readonly string[],
): { ok: true; protocol: string | null } | { ok: false; message: string } {
  if (protocols.length === 0) return { ok: true, protocol: null };
  if (protocols.includes(WS_SUBPROTOCOL)) return { ok: true, protocol: WS_SUBPROTOCOL };
  return {
    ok: false,
    message:
      `offer the ${WS_SUBPROTOCOL} subprotocol (Sec-WebSocket-Protocol: ${WS_SUBPROTOCOL}, ` +
      `${WS_BEARER_PROTOCOL_PREFIX}<token>)`,
  };
}

/** Headers for the 101 answer to an upgrade request: the selected subprotocol, if any. */
export function protocolHeaders(requestHeaders: { get(name: string): string | null }): Record<string, string> {
  const selected = selectProtocol(offeredProtocols(requestHeaders.get("sec-websocket-protocol")));
  return selected.ok && selected.protocol ? { "Sec-WebSocket-Protocol": selected.protocol } : {};
}

/** The protocols a browser client offers: the contract's, plus its token when it has one. */
export function clientProtocols(token: string | undefined): string[] {
  return token === undefined ? [WS_SUBPROTOCOL] : [WS_SUBPROTOCOL, `${WS_BEARER_PROTOCOL_PREFIX}${token}`];
}
