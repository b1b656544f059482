/**
 * The Worker's own pages (src/router/page-assets.ts, used by src/ops/routes.ts and
 * src/playground/routes.ts): a strict CSP with sockets to the serving host only, no framing, no
 * Referer, and a 304 when the browser already has this build.
 */
import { describe, expect, it } from "vitest";
import { JS, pageAssets } from "../../src/router/page-assets";

const { asset, page } = pageAssets("v1");
const get = (url: string, etag?: string) => new Request(url, etag ? { headers: { "if-none-match": etag } } : {});

describe("pageAssets", () => {
  it("serves a page with a CSP allowing sockets to its own host only (ws: locally, wss: deployed)", async () => {
    const hosts = [["http://localhost:8787/", "ws://localhost:8787"], ["https://e.example/rooms", "wss://e.example"]];
    for (const [url, socket] of hosts) {
      const res = page(get(url!), "<!doctype html>", { csp: ["worker-src 'self'"], permissions: "camera=(self)" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const csp = res.headers.get("content-security-policy")!.split("; ");
      expect(csp).toEqual(expect.arrayContaining(["default-src 'none'", "script-src 'self'", "worker-src 'self'"]));
      expect(csp).toEqual(expect.arrayContaining([`connect-src 'self' ${socket}`, "frame-ancestors 'none'"]));
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("permissions-policy")).toBe("camera=(self)");
      expect(await res.text()).toBe("<!doctype html>");
    }
  });

  it("revalidates every load: 304 with no body when the browser has this build, else the asset", async () => {
    const first = asset(get("http://localhost/app.js"), "console.log(1)", JS);
    expect(first.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(first.headers.get("cache-control")).toBe("no-cache");
    expect(first.headers.get("x-content-type-options")).toBe("nosniff");
    expect(first.headers.get("etag")).toBe('"v1"');
    expect(await first.text()).toBe("console.log(1)");
    const again = asset(get("http://localhost/app.js", '"v1"'), "console.log(1)", JS);
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(asset(get("http://localhost/app.js", '"v0"'), "console.log(1)", JS).status).toBe(200);
  });
});
