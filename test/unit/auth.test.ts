/**
 * The router's auth policy (docs/DESIGN.md §6), failing closed: which requests need a connect token or
 * the admin key, where a token may be carried, and what development mode relaxes (loopback hosts
 * without secrets only). Every refusal case must be refused: 0 accepted.
 */
import { describe, expect, it } from "vitest";
import { parseConfig, type ConfigVars } from "../../src/config/config";
import {
  authorizeAdmin,
  authorizeParticipant,
  carriedToken,
  devModeWarning,
  isLocalDev,
  isLoopbackAddress,
  isLoopbackPeer,
  isLoopbackRequest,
  signingSecret,
} from "../../src/router/auth";
import { signConnectToken } from "../../src/router/tokens";

const SECRET = "unit-connect-token-secret-0123456789";
const ADMIN = "unit-admin-key-0123456789";
const PRODUCTION: ConfigVars = { DATASPIKE_API_KEY: "ds_key", CONNECT_TOKEN_SECRET: SECRET, ADMIN_API_KEY: ADMIN };
const config = (vars: ConfigVars) => parseConfig({ ...vars });
const nowS = () => Math.floor(Date.now() / 1000);

/** What `wrangler dev` adds for a client on this machine: its peer address. */
const LOCAL_PEER = { "cf-connecting-ip": "127.0.0.1" };
function upgrade(url: string, headers: Record<string, string> = {}): Request {
  return new Request(url, { headers: { upgrade: "websocket", ...LOCAL_PEER, ...headers } });
}
const token = (participantId = "alice", secret = SECRET, scope?: "stream" | "sfu") =>
  signConnectToken(secret, { participantId, issuedAtS: nowS(), expiresAtS: nowS() + 600, ...(scope ? { scope } : {}) });

describe("loopback", () => {
  it("is judged by the request URL's hostname: 127.0.0.1, localhost, [::1] only", () => {
    for (const host of ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"]) expect(isLoopbackRequest(new Request(`http://${host}:8787/x`)), host).toBe(true);
    for (const host of ["edge.example.com", "127.0.0.2", "10.0.0.1", "0.0.0.0", "localhost.evil.com", "[::2]", "127.0.0.1.nip.io"]) {
      expect(isLoopbackRequest(new Request(`http://${host}/x`)), host).toBe(false);
    }
    // A Host header does not count: only the URL the Worker was asked for.
    expect(isLoopbackRequest(new Request("https://edge.example.com/x", { headers: { host: "localhost" } }))).toBe(false);
  });
});

describe("loopback peer (CF-Connecting-IP)", () => {
  it("accepts 127.0.0.0/8 and ::1 in their spellings, nothing else", () => {
    for (const ip of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "0000::0001", "::ffff:127.0.0.1", " 127.0.0.1 "]) {
      expect(isLoopbackAddress(ip), ip).toBe(true);
    }
    for (const ip of ["192.0.2.2", "10.0.0.1", "0.0.0.0", "128.0.0.1", "127.0.0.256", "1.127.0.0", "::", "::2", "1::1", "fe80::1",
      "::ffff:10.0.0.1", "localhost", "", "127.0.0.1, 10.0.0.1", "::1::", "1:0:0:0:0:0:0:0:1"]) {
      expect(isLoopbackAddress(ip), ip).toBe(false);
    }
  });

  it("is read from CF-Connecting-IP only; a request without it is not from a loopback peer", () => {
    expect(isLoopbackPeer(new Request("http://127.0.0.1/x", { headers: { "cf-connecting-ip": "127.0.0.1" } }))).toBe(true);
    expect(isLoopbackPeer(new Request("http://127.0.0.1/x"))).toBe(false);
    expect(isLoopbackPeer(new Request("http://127.0.0.1/x", { headers: { "x-forwarded-for": "127.0.0.1" } }))).toBe(false);
    expect(isLoopbackPeer(new Request("http://127.0.0.1/x", { headers: { "cf-connecting-ip": "192.0.2.2" } }))).toBe(false);
  });

  it("open auth needs all of: DEV_MODE, no CONNECT_TOKEN_SECRET or ADMIN_API_KEY, loopback host and peer, no foreign Origin", () => {
    const dev = config({ DEV_MODE: "true" });
    const req = (url: string, headers: Record<string, string>) => new Request(url, { headers });
    expect(isLocalDev(dev, req("http://localhost:8787/x", LOCAL_PEER))).toBe(true);
    expect(isLocalDev(dev, req("http://localhost:8787/x", { ...LOCAL_PEER, origin: "http://localhost:8787" }))).toBe(true);
    const refused: Array<[string, boolean]> = [
      ["LAN peer with Host: localhost", isLocalDev(dev, req("http://localhost:8787/x", { "cf-connecting-ip": "192.0.2.2" }))],
      ["no peer address", isLocalDev(dev, req("http://localhost:8787/x", {}))],
      ["LAN host", isLocalDev(dev, req("http://192.0.2.2:8787/x", LOCAL_PEER))],
      ["a page of another site", isLocalDev(dev, req("http://127.0.0.1:8787/x", { ...LOCAL_PEER, origin: "https://evil.example" }))],
      ["production", isLocalDev(config(PRODUCTION), req("http://127.0.0.1:8787/x", LOCAL_PEER))],
      ["ADMIN_API_KEY set", isLocalDev(config({ DEV_MODE: "true", ADMIN_API_KEY: ADMIN }), req("http://127.0.0.1/x", LOCAL_PEER))],
      ["CONNECT_TOKEN_SECRET set", isLocalDev(config({ DEV_MODE: "true", CONNECT_TOKEN_SECRET: SECRET }), req("http://127.0.0.1/x", LOCAL_PEER))],
    ];
    expect(refused.filter(([, open]) => open).map(([name]) => name)).toEqual([]);
  });

  it("a real Dataspike key alone keeps the local start open for sockets (the admin routes close)", async () => {
    const withKey = config({ DEV_MODE: "true", DATASPIKE_API_KEY: "ds_live_key" });
    expect(await authorizeParticipant(withKey, upgrade("http://127.0.0.1:8787/v1/participants/a/stream"), "a", "stream")).toEqual({ ok: true });
    expect((await authorizeAdmin(withKey, new Request("http://127.0.0.1:8787/v1/participants/a", { headers: LOCAL_PEER }))).ok).toBe(false);
  });
});

describe("where a token is carried", () => {
  it("Authorization: Bearer, then the subprotocol bearer.<token>, then ?token=", () => {
    expect(carriedToken(upgrade("https://e/x", { authorization: "Bearer h.h.h", "sec-websocket-protocol": "deepfake-edge.v1, bearer.p.p.p" }))).toBe("h.h.h");
    expect(carriedToken(upgrade("https://e/x?token=q.q.q", { "sec-websocket-protocol": "deepfake-edge.v1, bearer.p.p.p" }))).toBe("p.p.p");
    expect(carriedToken(upgrade("https://e/x?token=q.q.q"))).toBe("q.q.q");
    expect(carriedToken(upgrade("https://e/x", { "sec-websocket-protocol": "deepfake-edge.v1" }))).toBeNull();
    expect(carriedToken(upgrade("https://e/x", { "sec-websocket-protocol": "deepfake-edge.v1, bearer." }))).toBeNull();
  });
});

describe("participant sockets", () => {
  it("production: a valid token in any carriage is accepted, for its scope", async () => {
    const c = config(PRODUCTION);
    const t = await token();
    for (const req of [
      upgrade("https://edge.example.com/v1/participants/alice/stream", { authorization: `Bearer ${t}` }),
      upgrade("https://edge.example.com/v1/participants/alice/stream", { "sec-websocket-protocol": `deepfake-edge.v1, bearer.${t}` }),
      upgrade(`https://edge.example.com/v1/participants/alice/sfu/video?token=${t}`),
    ]) {
      expect(await authorizeParticipant(c, req, "alice", "stream")).toEqual({ ok: true });
    }
  });

  it("production refuses: missing, malformed, wrong participant, wrong scope, foreign secret (0 accepted)", async () => {
    const c = config(PRODUCTION);
    const url = "https://edge.example.com/v1/participants/alice/stream";
    const cases: Array<[string, Request, "stream" | "sfu"]> = [
      ["missing", upgrade(url), "stream"],
      ["malformed", upgrade(url, { authorization: "Bearer not.a.token" }), "stream"],
      ["wrong participant", upgrade(url, { authorization: `Bearer ${await token("bob")}` }), "stream"],
      ["wrong scope", upgrade(url, { authorization: `Bearer ${await token("alice", SECRET, "sfu")}` }), "stream"],
      ["wrong scope (sfu)", upgrade(url, { authorization: `Bearer ${await token("alice", SECRET, "stream")}` }), "sfu"],
      ["foreign secret", upgrade(url, { authorization: `Bearer ${await token("alice", "someone-elses-secret-0123456789")}` }), "stream"],
    ];
    for (const [name, req, endpoint] of cases) {
      const auth = await authorizeParticipant(c, req, "alice", endpoint);
      expect(auth.ok, name).toBe(false);
      if (!auth.ok) expect(auth.status).toBe(401);
    }
  });

  it("rotation: CONNECT_TOKEN_SECRET_PREVIOUS verifies while set; once removed its tokens are refused", async () => {
    const old = await token("alice", "the-previous-secret-0123456789");
    const req = () => upgrade("https://edge.example.com/v1/participants/alice/stream", { authorization: `Bearer ${old}` });
    expect(await authorizeParticipant(config({ ...PRODUCTION, CONNECT_TOKEN_SECRET_PREVIOUS: "the-previous-secret-0123456789" }), req(), "alice", "stream")).toEqual({ ok: true });
    expect((await authorizeParticipant(config(PRODUCTION), req(), "alice", "stream")).ok).toBe(false);
  });

  it("development mode opens sockets without a token only on a loopback host and only without secrets", async () => {
    const dev = config({ DEV_MODE: "true" });
    expect(await authorizeParticipant(dev, upgrade("http://127.0.0.1:8787/v1/participants/alice/stream"), "alice", "stream")).toEqual({ ok: true });
    expect(await authorizeParticipant(dev, upgrade("http://[::1]:8787/v1/participants/alice/stream"), "alice", "stream")).toEqual({ ok: true });
    // Non-loopback: production rules, and nothing can verify (the dev secret is loopback-only).
    for (const host of ["edge.example.com", "192.168.1.20:8787", "deepfake-edge.acme.workers.dev"]) {
      const missing = await authorizeParticipant(dev, upgrade(`https://${host}/v1/participants/alice/stream`), "alice", "stream");
      expect(missing.ok, host).toBe(false);
      const devToken = await signConnectToken(signingSecret(dev, new Request("http://localhost/", { headers: LOCAL_PEER }))!, { participantId: "alice", issuedAtS: nowS(), expiresAtS: nowS() + 60 });
      const forged = await authorizeParticipant(dev, upgrade(`https://${host}/v1/participants/alice/stream`, { authorization: `Bearer ${devToken}` }), "alice", "stream");
      expect(forged.ok, `${host} with a dev-secret token`).toBe(false);
    }
    expect(signingSecret(dev, new Request("https://edge.example.com/v1/tokens"))).toBeNull();
    // Loopback with a secret configured: tokens are required.
    const devWithSecret = config({ DEV_MODE: "true", CONNECT_TOKEN_SECRET: SECRET, ADMIN_API_KEY: ADMIN });
    expect((await authorizeParticipant(devWithSecret, upgrade("http://127.0.0.1:8787/v1/participants/alice/stream"), "alice", "stream")).ok).toBe(false);
    // ADMIN_API_KEY alone ends open auth too, and the development secret with it.
    const devWithAdmin = config({ DEV_MODE: "true", ADMIN_API_KEY: ADMIN });
    expect((await authorizeParticipant(devWithAdmin, upgrade("http://127.0.0.1:8787/v1/participants/alice/stream"), "alice", "stream")).ok).toBe(false);
    expect(signingSecret(devWithAdmin, upgrade("http://127.0.0.1:8787/v1/tokens"))).toBeNull();
    // A presented token is always checked, even where none is needed.
    expect((await authorizeParticipant(dev, upgrade("http://127.0.0.1/x", { authorization: "Bearer garbage" }), "alice", "stream")).ok).toBe(false);
  });
});

describe("management routes and token minting (admin key)", () => {
  const admin = (url: string, key?: string) =>
    new Request(url, { headers: { ...LOCAL_PEER, ...(key ? { authorization: `Bearer ${key}` } : {}) } });

  it("production: only the exact admin key", async () => {
    const c = config(PRODUCTION);
    expect(await authorizeAdmin(c, admin("https://edge.example.com/v1/tokens", ADMIN))).toEqual({ ok: true });
    for (const key of [undefined, "", "wrong", `${ADMIN}x`, ADMIN.slice(0, -1), SECRET]) {
      expect((await authorizeAdmin(c, admin("https://edge.example.com/v1/tokens", key))).ok, String(key)).toBe(false);
    }
  });

  it("rotation: ADMIN_API_KEY_PREVIOUS is accepted while set, refused once removed", async () => {
    const rotating = config({ ...PRODUCTION, ADMIN_API_KEY: "the-new-admin-key-0123456789", ADMIN_API_KEY_PREVIOUS: ADMIN });
    expect(await authorizeAdmin(rotating, admin("https://edge.example.com/v1/tokens", ADMIN))).toEqual({ ok: true });
    expect(await authorizeAdmin(rotating, admin("https://edge.example.com/v1/tokens", "the-new-admin-key-0123456789"))).toEqual({ ok: true });
    const rotated = config({ ...PRODUCTION, ADMIN_API_KEY: "the-new-admin-key-0123456789" });
    expect((await authorizeAdmin(rotated, admin("https://edge.example.com/v1/tokens", ADMIN))).ok).toBe(false);
  });

  it("whenever any secret is set, the admin key is required, in development mode and on loopback too", async () => {
    for (const secret of ["DATASPIKE_API_KEY", "CONNECT_TOKEN_SECRET", "CONNECT_TOKEN_SECRET_PREVIOUS", "WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS"] as const) {
      const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
      const vars: Record<string, string> = { DEV_MODE: "true", [secret]: secret.startsWith("WEBHOOK_SECRET") ? whsec : "0123456789abcdef0123" };
      if (secret === "WEBHOOK_SECRET_PREVIOUS") vars.WEBHOOK_SECRET = whsec;
      if (secret === "CONNECT_TOKEN_SECRET_PREVIOUS") vars.CONNECT_TOKEN_SECRET = SECRET;
      const c = config(vars as ConfigVars);
      const auth = await authorizeAdmin(c, admin("http://127.0.0.1:8787/v1/tokens"));
      expect(auth.ok, secret).toBe(false);
    }
    // CONNECT_TOKEN_SECRET but no ADMIN_API_KEY: POST /v1/tokens is closed, not open.
    const noAdmin = config({ DEV_MODE: "true", CONNECT_TOKEN_SECRET: SECRET });
    expect(await authorizeAdmin(noAdmin, admin("http://127.0.0.1:8787/v1/tokens"))).toMatchObject({ ok: false, message: expect.stringContaining("ADMIN_API_KEY is not configured") });
  });

  it("development mode: a LAN peer, or a page of another site, is held to the admin key on loopback hosts too", async () => {
    const dev = config({ DEV_MODE: "true" });
    const lan = new Request("http://localhost:8787/v1/tokens", { method: "POST", headers: { "cf-connecting-ip": "192.0.2.2" } });
    expect((await authorizeAdmin(dev, lan)).ok).toBe(false);
    const page = { ...LOCAL_PEER, origin: "https://evil.example" };
    expect((await authorizeAdmin(dev, new Request("http://127.0.0.1:8787/v1/dev/simulator/a", { method: "POST", headers: page }))).ok).toBe(false);
    expect(signingSecret(dev, lan)).toBeNull();
  });

  it("development mode on a non-loopback host behaves like production (no admin key: refused)", async () => {
    const dev = config({ DEV_MODE: "true" });
    expect(await authorizeAdmin(dev, admin("http://127.0.0.1:8787/v1/tokens"))).toEqual({ ok: true });
    expect(await authorizeAdmin(dev, admin("http://localhost:8787/v1/participants/a"))).toEqual({ ok: true });
    for (const url of ["https://edge.example.com/v1/tokens", "http://192.168.1.20:8787/v1/participants/a", "http://10.0.0.5/v1/dev/simulator/a"]) {
      expect((await authorizeAdmin(dev, admin(url))).ok, url).toBe(false);
      expect((await authorizeAdmin(dev, admin(url, "anything"))).ok, url).toBe(false);
    }
  });
});

describe("development mode warning", () => {
  it("is produced in development mode only", () => {
    expect(devModeWarning({ DEV_MODE: "true" })).toMatch(/DEV_MODE=true.*loopback|127\.0\.0\.1/);
    expect(devModeWarning({})).toBeNull();
    expect(devModeWarning({ DEV_MODE: "false" })).toBeNull();
  });
});
