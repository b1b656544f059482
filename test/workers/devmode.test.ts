/**
 * Development mode's trust model and socket origins inside workerd (docs/DESIGN.md §6). The pool runs
 * with secrets set, so the secret-free cases call the Worker with a copy of the pool's env without
 * them; CF-Connecting-IP is set as `wrangler dev` sets it (the peer address; the pool sets none).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.js";
import type { Env } from "../../src/env.js";
import { ADMIN, call, mintToken } from "./helpers.js";

const LOCAL = { "cf-connecting-ip": "127.0.0.1" };
const LAN = { "cf-connecting-ip": "192.0.2.2" };

/** The pool's env without any secret (what `npm start` gives a developer without a Dataspike key). */
function devEnv(extra: Partial<Env> = {}): Env {
  const copy: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>) };
  for (const name of ["CONNECT_TOKEN_SECRET", "ADMIN_API_KEY", "WEBHOOK_SECRET", "WEBHOOK_URLS"]) delete copy[name];
  return { ...(copy as unknown as Env), ...extra };
}

function fetchWith(environment: Env, url: string, init: RequestInit = {}): Promise<Response> {
  return Promise.resolve(worker.fetch(new Request(url, init), environment));
}

const up = (headers: Record<string, string>) => ({ headers: { Upgrade: "websocket", ...headers } });
const mint = (headers: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify({ participant_id: "dev-peer" }),
});
const steer = (headers: Record<string, string>) => ({ method: "POST", headers, body: JSON.stringify({ level: "alert" }) });

function done(res: Response): number {
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "done");
  }
  return res.status;
}

describe("development mode opens auth only to this machine", () => {
  it("a loopback host from a loopback peer: sockets, token minting and the simulator open without credentials", async () => {
    const dev = devEnv();
    expect(done(await fetchWith(dev, "http://127.0.0.1:8787/v1/participants/dev-peer/stream", up(LOCAL)))).toBe(101);
    const minted = await fetchWith(dev, "http://localhost:8787/v1/tokens", mint(LOCAL));
    expect(minted.status).toBe(200);
    expect(done(await fetchWith(dev, "http://[::1]:8787/v1/dev/simulator/dev-peer", steer({ "cf-connecting-ip": "::1" })))).toBe(200);
  });

  it("Host: localhost from a LAN peer, or with no peer address, is held to production rules (401)", async () => {
    const dev = devEnv();
    const statuses: Record<string, number> = {};
    for (const [name, peer] of [["LAN peer", LAN], ["no peer", {}]] as const) {
      statuses[`${name} stream`] = done(await fetchWith(dev, "http://localhost:8787/v1/participants/dev-peer/stream", up(peer)));
      statuses[`${name} tokens`] = done(await fetchWith(dev, "http://localhost:8787/v1/tokens", mint(peer)));
      statuses[`${name} simulator`] = done(await fetchWith(dev, "http://localhost:8787/v1/dev/simulator/dev-peer", steer(peer)));
      statuses[`${name} snapshot`] = done(await fetchWith(dev, "http://localhost:8787/v1/participants/dev-peer", { headers: peer }));
    }
    expect(Object.values(statuses).every((status) => status === 401), JSON.stringify(statuses)).toBe(true);
  });

  it("ADMIN_API_KEY alone ends open auth for sockets too", async () => {
    const withAdmin = devEnv({ ADMIN_API_KEY: "dev-admin-key-0123456789" });
    expect(done(await fetchWith(withAdmin, "http://127.0.0.1:8787/v1/participants/dev-peer/stream", up(LOCAL)))).toBe(401);
    expect(done(await fetchWith(withAdmin, "http://127.0.0.1:8787/v1/tokens", mint(LOCAL)))).toBe(401);
  });

  it("a page of another site gets no open auth on loopback: its socket is refused (403), its POSTs need the key", async () => {
    const dev = devEnv();
    const page = { ...LOCAL, origin: "https://evil.example" };
    const socket = await fetchWith(dev, "http://127.0.0.1:8787/v1/participants/dev-peer/stream", up(page));
    expect(socket.status).toBe(403);
    expect(await socket.json()).toMatchObject({ error: "origin_not_allowed" });
    expect(done(await fetchWith(dev, "http://127.0.0.1:8787/v1/dev/simulator/dev-peer", steer(page)))).toBe(401);
    expect(done(await fetchWith(dev, "http://127.0.0.1:8787/v1/tokens", mint(page)))).toBe(401);
    // The playground itself (same origin) keeps working.
    const own = { ...LOCAL, origin: "http://127.0.0.1:8787" };
    expect(done(await fetchWith(dev, "http://127.0.0.1:8787/v1/participants/dev-peer/stream", up(own)))).toBe(101);
  });
});

describe("socket origins in production rules (the pool: secrets set, https://edge.test)", () => {
  it("every socket route refuses a foreign origin with 403 before checking the token", async () => {
    const token = await mintToken("origin-1");
    for (const route of ["stream", "sfu/video", "sfu/audio"]) {
      const headers = { Upgrade: "websocket", origin: "https://evil.example", authorization: `Bearer ${token}` };
      const res = await call(`/v1/participants/origin-1/${route}`, { headers });
      expect(res.status, route).toBe(403);
      expect(await res.json(), route).toMatchObject({ error: "origin_not_allowed", message: expect.stringContaining("ALLOWED_ORIGINS") });
      // Without a token too: the origin is refused first.
      expect((await call(`/v1/participants/origin-1/${route}`, { headers: { Upgrade: "websocket", origin: "https://evil.example" } })).status).toBe(403);
    }
  });

  it("a room's watch socket refuses a foreign origin with 403 too, even with the admin key", async () => {
    const headers = { Upgrade: "websocket", origin: "https://evil.example", ...ADMIN };
    const res = await call("/v1/rooms/origin-room/watch", { headers });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "origin_not_allowed" });
    expect(done(await call("/v1/rooms/origin-room/watch", { headers: { Upgrade: "websocket", origin: "https://edge.test", ...ADMIN } }))).toBe(101);
  });

  it("the own origin, an ALLOWED_ORIGINS entry and no Origin at all are accepted", async () => {
    const allowed = { ...(env as unknown as Env), ALLOWED_ORIGINS: "https://app.example.com" };
    const url = "https://edge.test/v1/participants/origin-2/stream";
    const statuses: Record<string, number> = {};
    for (const origin of ["https://edge.test", "https://app.example.com", null]) {
      const token = await mintToken("origin-2");
      const headers = { Upgrade: "websocket", authorization: `Bearer ${token}`, ...(origin ? { origin } : {}) };
      statuses[String(origin)] = done(await fetchWith(allowed, url, { headers }));
    }
    expect(statuses).toEqual({ "https://edge.test": 101, "https://app.example.com": 101, null: 101 });
  });

  it("an invalid ALLOWED_ORIGINS fails closed (503, named without its value)", async () => {
    const broken = { ...(env as unknown as Env), ALLOWED_ORIGINS: "https://app.example.com/path" };
    const health = await fetchWith(broken, "https://edge.test/healthz");
    expect(health.status).toBe(503);
    const body = JSON.stringify(await health.json());
    expect(body).toContain("ALLOWED_ORIGINS entry 1");
    expect(body).not.toContain("/path");
  });
});
