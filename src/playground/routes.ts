/**
 * The playground (docs/DESIGN.md §6 `GET /`): a page served by the Worker itself, with its stylesheet,
 * script and AudioWorklet, from src/playground/generated/assets.ts (no CDN, no build step at deploy).
 * Mounted in src/index.ts with `app.route("/", playground)`.
 *
 * A strict CSP: scripts, styles and the worklet only from this origin, sockets only to this host,
 * no framing. The page never holds secrets; a `?token=` it was opened with is removed from the
 * address bar by the script, and no-referrer keeps it out of Referer headers.
 */
import { Hono } from "hono";
import type { Env } from "../env.js";
import { CSS, JS, pageAssets } from "../router/page-assets.js";
import { APP_CSS, APP_JS, ASSETS_VERSION, AUDIO_WORKLET_JS, PAGE_HTML } from "./generated/assets.js";

export const playground = new Hono<{ Bindings: Env }>();

const { asset, page } = pageAssets(ASSETS_VERSION);
const POLICY = {
  csp: ["img-src 'self' data: blob:", "media-src 'self' blob: mediastream:", "worker-src 'self'"],
  permissions: "camera=(self), microphone=(self), geolocation=(), payment=()",
};

playground.get("/", (c) => page(c.req.raw, PAGE_HTML, POLICY));
playground.get("/playground/app.js", (c) => asset(c.req.raw, APP_JS, JS));
playground.get("/playground/audio-worklet.js", (c) => asset(c.req.raw, AUDIO_WORKLET_JS, JS));
playground.get("/playground/app.css", (c) => asset(c.req.raw, APP_CSS, CSS));
// Browsers ask for it on every page load; an empty answer keeps the console and the logs quiet.
playground.get(
  "/favicon.ico",
  () => new Response(null, { status: 204, headers: { "cache-control": "max-age=86400" } }),
);
