/**
 * Which browser pages may open a socket (docs/DESIGN.md §6): a browser sends `Origin` on every
 * WebSocket upgrade, and a page on another site could otherwise open a socket with the user's
 * ambient access (in development mode, a page anywhere could reach ws://127.0.0.1:8787). The
 * participant sockets and the room watch socket accept the Worker's own origin and the origins of
 * ALLOWED_ORIGINS, in every mode; a request without `Origin` (a server, a bot, an SFU adapter) is not
 * a browser page and is unaffected. Pure: the router answers a refusal with 403 before upgrading.
 */
import type { Config } from "../config/config.js";

export type OriginCheck = { ok: true } | { ok: false; status: 403; message: string };

/**
 * The Worker's own origin: a page it served. The host (with its port) must be the one the request was
 * addressed to; the scheme may be http or https, so a page reached through a TLS proxy in front of
 * `wrangler dev` (which sees http) still counts as its own.
 */
function isOwnOrigin(origin: URL, requestUrl: URL): boolean {
  return (origin.protocol === "https:" || origin.protocol === "http:") && origin.host === requestUrl.host;
}

/** The request's `Origin` is absent, the Worker's own, or listed in ALLOWED_ORIGINS. */
export function originAllowed(config: Pick<Config, "allowedOrigins">, request: Request): boolean {
  const header = request.headers.get("origin");
  if (header === null) return true;
  let origin: URL;
  try {
    origin = new URL(header.trim());
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and anything unparsable
  }
  if (origin.origin === "null") return false;
  return isOwnOrigin(origin, new URL(request.url)) || config.allowedOrigins.includes(origin.origin);
}

/** The check of a socket route, with the refusal the router sends (403, before any upgrade). */
export function checkSocketOrigin(config: Pick<Config, "allowedOrigins">, request: Request): OriginCheck {
  if (originAllowed(config, request)) return { ok: true };
  return {
    ok: false,
    status: 403,
    message:
      "this socket does not accept upgrades from pages of that origin: only the service's own origin and those " +
      "listed in ALLOWED_ORIGINS (requests without an Origin header, from servers, are not affected)",
  };
}
