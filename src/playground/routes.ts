/**
 * The playground (docs/DESIGN.md §6 `GET /`): a page served by the Worker itself, with its stylesheet,
 * script and AudioWorklet, from src/playground/generated/assets.ts (no CDN, no build step at deploy).
 * Mounted in src/index.ts with `app.route("/", playground)`.
 *
 * A strict CSP: scripts, styles and the worklet only from this origin, sockets only to this host,
 * no framing. The page never holds secrets; a `?token=` it was opened with is removed from the
 * address bar by the script, and no-referrer keeps it out of Referer headers.
 */
import { Hono, type Context } from "hono";
import type { Env } from "../env.js";
import { APP_CSS, APP_JS, ASSETS_VERSION, AUDIO_WORKLET_JS, PAGE_HTML } from "./generated/assets.js";

export const playground = new Hono<{ Bindings: Env }>();

const ETAG = `"${ASSETS_VERSION}"`;

/** The CSP of the page, allowing WebSockets to the host that served it (ws: locally, wss: deployed). */
export function contentSecurityPolicy(requestUrl: string): string {
  const { host, protocol } = new URL(requestUrl);
  const socket = `${protocol === "https:" ? "wss" : "ws"}://${host}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    `connect-src 'self' ${socket}`,
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const COMMON_HEADERS: Record<string, string> = {
  "cache-control": "no-cache",
  etag: ETAG,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function asset(
  c: Context<{ Bindings: Env }>,
  body: string,
  contentType: string,
  extra: Record<string, string> = {},
): Response {
  const headers = { ...COMMON_HEADERS, "content-type": contentType, ...extra };
  if (c.req.header("if-none-match") === ETAG) return new Response(null, { status: 304, headers });
  return new Response(body, { status: 200, headers });
}

playground.get("/", (c) =>
  asset(c, PAGE_HTML, "text/html; charset=utf-8", {
    "content-security-policy": contentSecurityPolicy(c.req.url),
    "permissions-policy": "camera=(self), microphone=(self), geolocation=(), payment=()",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
  }),
);
playground.get("/playground/app.js", (c) => asset(c, APP_JS, "text/javascript; charset=utf-8"));
playground.get("/playground/audio-worklet.js", (c) => asset(c, AUDIO_WORKLET_JS, "text/javascript; charset=utf-8"));
playground.get("/playground/app.css", (c) => asset(c, APP_CSS, "text/css; charset=utf-8"));
// Browsers ask for it on every page load; an empty answer keeps the console and the logs quiet.
playground.get(
  "/favicon.ico",
  () => new Response(null, { status: 204, headers: { "cache-control": "max-age=86400" } }),
);
