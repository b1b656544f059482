/**
 * Auth on every route, inside workerd (docs/DESIGN.md §6). The pool runs DEV_MODE=true with secrets set
 * and a non-loopback host (https://edge.test): development mode must behave like production here.
 * Every refusal below is a refusal: 0 accepted.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, mintToken } from "./helpers.js";

const SECRET = "workers-test-secret-0123456789";
const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const nowS = () => Math.floor(Date.now() / 1000);

/** An HS256 token signed with WebCrypto here, independent of the service's signing code. */
async function hs256(claims: Record<string, unknown>, secret = SECRET, header: Record<string, unknown> = { alg: "HS256", typ: "JWT" }): Promise<string> {
  const body = `${b64(header)}.${b64(claims)}`;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `${body}.${btoa(String.fromCharCode(...sig)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

async function mint(body: Record<string, unknown>): Promise<Response> {
  return call("/v1/tokens", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify(body) });
}

const upgrade = (path: string, headers: Record<string, string> = {}) => call(path, { headers: { Upgrade: "websocket", ...headers } });

function closeIfOpen(res: Response): void {
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "done");
  }
}

describe("connect tokens on every socket route", () => {
  it("each failure mode is refused with 401 on /stream, /sfu/video and /sfu/audio", async () => {
    const t = nowS();
    const cases: Array<[string, string]> = [
      ["malformed", "not.a.token"],
      ["garbage", "eyJhbGciOiJIUzI1NiJ9"],
      ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "auth-1", iat: t, exp: t + 600 })}.`],
      ["RS256 header", await hs256({ sub: "auth-1", iat: t, exp: t + 600 }, SECRET, { alg: "RS256", typ: "JWT" })],
      ["tampered", (await mintToken("auth-1")).replace(/\.([^.]+)\./, (_m, p: string) => `.${p.slice(0, -2)}${p.endsWith("AA") ? "BB" : "AA"}.`)],
      ["expired", await hs256({ sub: "auth-1", iat: t - 7200, exp: t - 3600 })],
      ["not yet valid", await hs256({ sub: "auth-1", iat: t, nbf: t + 3600, exp: t + 7200 })],
      ["no exp", await hs256({ sub: "auth-1", iat: t })],
      ["over-long lifetime", await hs256({ sub: "auth-1", iat: t, exp: t + 30 * 86_400 })],
      ["wrong participant", await mintToken("someone-else")],
      ["rotated-out secret", await hs256({ sub: "auth-1", iat: t, exp: t + 600 }, "the-secret-we-rotated-away-from")],
    ];
    const accepted: string[] = [];
    for (const route of ["stream", "sfu/video", "sfu/audio"]) {
      for (const [name, token] of cases) {
        for (const carry of ["header", "subprotocol", "query"] as const) {
          const path = `/v1/participants/auth-1/${route}${carry === "query" ? `?token=${encodeURIComponent(token)}` : ""}`;
          const headers: Record<string, string> =
            carry === "header" ? { Authorization: `Bearer ${token}` } : carry === "subprotocol" ? { "Sec-WebSocket-Protocol": `deepfake-edge.v1, bearer.${token}` } : {};
          const res = await upgrade(path, headers);
          if (res.status !== 401) accepted.push(`${route} ${name} ${carry}: ${res.status}`);
          closeIfOpen(res);
          const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
          if (res.status === 401) {
            expect(body.error).toBe("unauthorized");
            if (token.length > 40) expect(body.message ?? "").not.toContain(token.slice(10, 40));
          }
        }
      }
      const missing = await upgrade(`/v1/participants/auth-1/${route}`);
      if (missing.status !== 401) accepted.push(`${route} missing: ${missing.status}`);
    }
    expect(accepted).toEqual([]);
  });

  it("scopes: a stream token opens only /stream, an sfu token only the adapter feeds, none opens both", async () => {
    const token = async (scope?: string) => ((await (await mint({ participant_id: "scope-1", ttl_s: 60, ...(scope ? { scope } : {}) })).json()) as { token: string }).token;
    const stream = await token("stream");
    const sfu = await token("sfu");
    const both = await token();
    const status = async (route: string, t: string) => {
      const res = await upgrade(`/v1/participants/scope-1/${route}`, { Authorization: `Bearer ${t}` });
      closeIfOpen(res);
      return res.status;
    };
    expect([await status("stream", stream), await status("sfu/video", stream), await status("sfu/audio", stream)]).toEqual([101, 401, 401]);
    expect([await status("stream", sfu), await status("sfu/video", sfu), await status("sfu/audio", sfu)]).toEqual([401, 101, 101]);
    expect([await status("stream", both), await status("sfu/video", both)]).toEqual([101, 101]);
    const bad = await mint({ participant_id: "scope-1", scope: "admin" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("bad_scope");
  });

  it("browser carriage: the subprotocol bearer.<token> is accepted and the 101 answers deepfake-edge.v1, never the token", async () => {
    const token = await mintToken("proto-1");
    const res = await upgrade("/v1/participants/proto-1/stream", { "Sec-WebSocket-Protocol": `deepfake-edge.v1, bearer.${token}` });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("deepfake-edge.v1");
    closeIfOpen(res);
    // Offering other protocols only is refused (a browser would fail such a socket anyway).
    const other = await upgrade("/v1/participants/proto-1/stream", { "Sec-WebSocket-Protocol": "chat", Authorization: `Bearer ${token}` });
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: string }).error).toBe("bad_subprotocol");
    // Without a subprotocol (Node clients with a header), the answer has none.
    const plain = await upgrade("/v1/participants/proto-1/stream", { Authorization: `Bearer ${token}` });
    expect(plain.status).toBe(101);
    expect(plain.headers.get("sec-websocket-protocol")).toBeNull();
    closeIfOpen(plain);
  });
});

describe("management routes without the admin key", () => {
  it("every management route, token minting and the simulator controls answer 401 without or with a wrong key", async () => {
    const routes: Array<[string, string, string?]> = [
      ["GET", "/v1/participants/mgmt-1"],
      ["GET", "/v1/participants/mgmt-1/events"],
      ["GET", "/v1/participants/mgmt-1/webhooks"],
      ["DELETE", "/v1/participants/mgmt-1"],
      ["POST", "/v1/participants/mgmt-1/webhooks/1/redeliver"],
      ["POST", "/v1/tokens", JSON.stringify({ participant_id: "mgmt-1" })],
      ["POST", "/v1/dev/simulator/mgmt-1", JSON.stringify({ level: "alert" })],
      ["GET", "/v1/dev/simulator/mgmt-1"],
    ];
    const accepted: string[] = [];
    for (const [method, path, body] of routes) {
      for (const headers of [{}, { Authorization: "Bearer wrong" }, { Authorization: `Bearer ${SECRET}` }, { Authorization: "Basic d29ya2Vycy10ZXN0LWFkbWlu" }] as Array<Record<string, string>>) {
        const res = await call(path, { method, headers, ...(body ? { body } : {}) });
        // 404 is also a refusal for a route that does not exist on this branch; anything 2xx is not.
        if (res.status < 400 || (res.status !== 401 && res.status !== 404)) accepted.push(`${method} ${path} ${JSON.stringify(headers)}: ${res.status}`);
        else if (res.status === 404 && !path.includes("redeliver")) accepted.push(`${method} ${path}: 404 instead of 401`);
      }
    }
    expect(accepted).toEqual([]);
  });
});

describe("development mode on a non-loopback host", () => {
  it("behaves like production: this pool is DEV_MODE=true on https://edge.test", async () => {
    const health = (await (await call("/healthz")).json()) as { dev_mode: boolean };
    expect(health.dev_mode).toBe(true);
    expect((await upgrade("/v1/participants/dev-1/stream")).status).toBe(401);
    expect((await call("/v1/participants/dev-1")).status).toBe(401);
    expect((await call("/v1/tokens", { method: "POST", body: JSON.stringify({ participant_id: "dev-1" }) })).status).toBe(401);
  });

  it("the same request to a loopback host is held to the admin key too, because secrets are configured", async () => {
    const res = await exports.default.fetch(new Request("http://127.0.0.1/v1/tokens", { method: "POST", body: JSON.stringify({ participant_id: "dev-1" }) }));
    expect(res.status).toBe(401);
    const socket = await exports.default.fetch(new Request("http://localhost/v1/participants/dev-1/stream", { headers: { Upgrade: "websocket" } }));
    expect(socket.status).toBe(401);
  });
});
