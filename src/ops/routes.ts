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
import { Hono } from "hono";
import type { Env } from "../env.js";
import { CSS, JS, pageAssets } from "../router/page-assets.js";
import { OPS_CSS, OPS_HTML, OPS_JS, OPS_VERSION } from "./generated/assets.js";

export const ops = new Hono<{ Bindings: Env }>();

const { asset, page } = pageAssets(OPS_VERSION);
const PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=()";

for (const path of ["/rooms", "/rooms/", "/rooms/:room"]) {
  ops.get(path, (c) => page(c.req.raw, OPS_HTML, { permissions: PERMISSIONS }));
}
ops.get("/ops/app.js", (c) => asset(c.req.raw, OPS_JS, JS));
ops.get("/ops/app.css", (c) => asset(c.req.raw, OPS_CSS, CSS));
