/**
 * The Worker's own pages (the playground, the operations view) with their scripts and stylesheets, from
 * committed generated assets: revalidated on every load (no-cache, the build's ETag, 304 when it
 * matches), nosniff, no Referer. A page also gets a strict CSP (everything from this origin, WebSockets
 * to this host only, no framing), its permissions policy, and its own browsing context group.
 */

export const HTML = "text/html; charset=utf-8";
export const JS = "text/javascript; charset=utf-8";
export const CSS = "text/css; charset=utf-8";

/** A page's CSP: all from this origin, WebSockets to this host (ws: locally, wss: deployed), plus `extra`. */
export function pageContentSecurityPolicy(requestUrl: string, extra: readonly string[] = []): string {
  const { host, protocol } = new URL(requestUrl);
  const socket = `${protocol === "https:" ? "wss" : "ws"}://${host}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    ...extra,
    `connect-src 'self' ${socket}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export interface PagePolicy {
  /** CSP directives beyond pageContentSecurityPolicy's own (images, media, workers). */
  csp?: readonly string[];
  /** The Permissions-Policy header. */
  permissions: string;
}

export interface PageAssets {
  asset(request: Request, body: string, contentType: string): Response;
  page(request: Request, html: string, policy: PagePolicy): Response;
}

/** Responders for the assets of one build (`version`: its hash, the ETag). */
export function pageAssets(version: string): PageAssets {
  const etag = `"${version}"`;
  const reply = (request: Request, body: string, headers: Record<string, string>): Response => {
    const all = { "cache-control": "no-cache", etag, "x-content-type-options": "nosniff", ...headers };
    if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: all });
    return new Response(body, { status: 200, headers: all });
  };
  return {
    asset: (request, body, contentType) =>
      reply(request, body, { "referrer-policy": "no-referrer", "content-type": contentType }),
    page: (request, html, policy) =>
      reply(request, html, {
        "referrer-policy": "no-referrer",
        "content-type": HTML,
        "content-security-policy": pageContentSecurityPolicy(request.url, policy.csp),
        "permissions-policy": policy.permissions,
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
      }),
  };
}
