/**
 * The operations view (docs/DESIGN.md §12): `GET /rooms` and `GET /rooms/:room` serve one page whose
 * script picks the view from the path; its stylesheet and script come from
 * src/ops/generated/assets.ts (built by scripts/build-playground.mjs, committed). Mounted in
 * src/index.ts with `app.route("/", ops)`.
 *
 * The page holds no secret: the admin key is typed into it and kept in the tab's sessionStorage. A
 * strict CSP (scripts, styles and fetches from this origin, sockets to this host only), no framing,
 * and no Referer.
 */
import { Hono, type Context } from "hono";
import type { Env } from "../env.js";
import { OPS_CSS, OPS_HTML, OPS_JS, OPS_VERSION } from "./generated/assets.js";

export const ops = new Hono<{ Bindings: Env }>();

const ETAG = `"${OPS_VERSION}"`;

/** The page's CSP: everything from this origin, WebSockets to this host (ws: locally, wss: deployed). */
export function opsContentSecurityPolicy(requestUrl: string): string {
  const { host, protocol } = new URL(requestUrl);
  const socket = `${protocol === "https:" ? "wss" : "ws"}://${host}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${socket}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

type Ctx = Context<{ Bindings: Env }>;

function asset(c: Ctx, body: string, contentType: string, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = {
    "cache-control": "no-cache",
    etag: ETAG,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-type": contentType,
    ...extra,
  };
  if (c.req.header("if-none-match") === ETAG) return new Response(null, { status: 304, headers });
  return new Response(body, { status: 200, headers });
}

const page = (c: Ctx) =>
  asset(c, OPS_HTML, "text/html; charset=utf-8", {
    "content-security-policy": opsContentSecurityPolicy(c.req.url),
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
  });

ops.get("/rooms", page);
ops.get("/rooms/", page);
ops.get("/rooms/:room", page);
ops.get("/ops/app.js", (c) => asset(c, OPS_JS, "text/javascript; charset=utf-8"));
ops.get("/ops/app.css", (c) => asset(c, OPS_CSS, "text/css; charset=utf-8"));
