/**
 * Development mode's trust model and socket origins against a real `wrangler dev` (docs/DESIGN.md
 * §6), in the default development configuration (DEV_MODE=true and no secret, what `npm start` runs;
 * ALLOWED_ORIGINS is the one var added). wrangler listens on 0.0.0.0 as `HOST=0.0.0.0 npm start`
 * would, but every request here goes to 127.0.0.1: tests send traffic to loopback only. What a
 * request from a non-loopback peer gets (no open auth) is proven in test/workers/devmode.test.ts
 * with CF-Connecting-IP set, and here through a forged header, which npm start's plan holds too.
 *
 * Proves: a foreign Origin is refused with 403 before the upgrade; the own origin, an ALLOWED_ORIGINS
 * entry and no Origin at all are accepted; a request with `Host: localhost` from loopback is open;
 * and `npm start` bound to 0.0.0.0 (scripts/dev-plan.mjs) holds even a request that forges
 * CF-Connecting-IP to tokens and the admin key.
 */
import { request } from "node:http";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upgradeStatus } from "./harness/client.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";
// @ts-expect-error: a plain .mjs script without type declarations
import { devPlan } from "../../scripts/dev-plan.mjs";

const APP_ORIGIN = "https://app.example.com";

interface Raw {
  /** The address to connect to (the peer address the Worker sees is the local end of that connection). */
  to: string;
  port: number;
  method?: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** One HTTP request with full control of Host and the other headers; resolves with the status. */
function raw({ to, port, method = "GET", path, headers, body }: Raw): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: to, port, method, path, headers, timeout: 10_000 });
    const answer = (status: number, res: NodeJS.ReadableStream & { destroy?: () => void }) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
    };
    req.on("response", (res) => answer(res.statusCode ?? 0, res));
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: "" });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": randomBytes(16).toString("base64"),
};

/** What a client can do without credentials, each as `name: status`. */
async function openAuthProbe(to: string, port: number, extra: Record<string, string> = {}): Promise<Record<string, number>> {
  const headers = { host: `localhost:${port}`, ...extra };
  const json = { ...headers, "content-type": "application/json" };
  return {
    stream: (await raw({ to, port, path: "/v1/participants/dm-peer/stream", headers: { ...headers, ...UPGRADE } })).status,
    tokens: (await raw({ to, port, method: "POST", path: "/v1/tokens", headers: json, body: '{"participant_id":"dm-peer"}' })).status,
    simulator: (await raw({ to, port, method: "POST", path: "/v1/dev/simulator/dm-peer", headers: json, body: '{"level":"alert"}' })).status,
    snapshot: (await raw({ to, port, path: "/v1/participants/dm-peer", headers })).status,
  };
}

describe("development mode (DEV_MODE=true, no secret) on 0.0.0.0", () => {
  let dev: WranglerDev;
  beforeAll(async () => {
    dev = await startWranglerDev({ vars: { DEV_MODE: "true", ALLOWED_ORIGINS: APP_ORIGIN }, ip: "0.0.0.0" });
  });
  afterAll(async () => dev?.stop());

  it("socket origins: a foreign page is refused with 403; the own origin, ALLOWED_ORIGINS and no Origin are accepted", async () => {
    const url = `ws://127.0.0.1:${dev.port}/v1/participants/dm-origin/stream`;
    const refused = await upgradeStatus(url, { origin: "https://evil.example" });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "origin_not_allowed" });
    expect((await upgradeStatus(`ws://127.0.0.1:${dev.port}/v1/participants/dm-origin/sfu/audio`, { origin: "https://evil.example" })).status).toBe(403);
    const accepted: Record<string, number> = {};
    for (const origin of [`http://127.0.0.1:${dev.port}`, APP_ORIGIN, null]) {
      accepted[String(origin)] = (await upgradeStatus(url, origin === null ? {} : { origin })).status;
    }
    expect(accepted).toEqual({ [`http://127.0.0.1:${dev.port}`]: 101, [APP_ORIGIN]: 101, null: 101 });
  });

  it("Host: localhost from this machine is open (no secret is set)", async () => {
    const local = await openAuthProbe("127.0.0.1", dev.port);
    expect(local).toEqual({ stream: 101, tokens: 200, simulator: 200, snapshot: 200 });
  });
});

describe("npm start with HOST=0.0.0.0 (scripts/dev-plan.mjs)", () => {
  let dev: WranglerDev;
  let adminKey: string;
  beforeAll(async () => {
    const plan = devPlan({ env: { HOST: "0.0.0.0" }, devVarsText: null }) as { args: string[]; generated: Record<string, string>; banner: string };
    expect(plan.banner).toContain("AUTH REQUIRED");
    const vars: Record<string, string> = {};
    plan.args.forEach((arg, i) => {
      if (plan.args[i - 1] !== "--var") return;
      const at = arg.indexOf(":");
      vars[arg.slice(0, at)] = arg.slice(at + 1);
    });
    adminKey = plan.generated.ADMIN_API_KEY!;
    dev = await startWranglerDev({ vars, ip: "0.0.0.0" });
  });
  afterAll(async () => dev?.stop());

  it("needs tokens and the admin key even for a peer that forges CF-Connecting-IP; a minted token opens the socket", async () => {
    const to = "127.0.0.1";
    const forged = await openAuthProbe(to, dev.port, { "cf-connecting-ip": "127.0.0.1" });
    expect(forged).toEqual({ stream: 401, tokens: 401, simulator: 401, snapshot: 401 });
    const minted = await raw({
      to,
      port: dev.port,
      method: "POST",
      path: "/v1/tokens",
      headers: { host: `localhost:${dev.port}`, authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: '{"participant_id":"dm-peer"}',
    });
    expect(minted.status).toBe(200);
    const { token } = JSON.parse(minted.body) as { token: string };
    const stream = await raw({
      to,
      port: dev.port,
      path: "/v1/participants/dm-peer/stream",
      headers: { host: `localhost:${dev.port}`, authorization: `Bearer ${token}`, ...UPGRADE },
    });
    expect(stream.status).toBe(101);
  });
});
