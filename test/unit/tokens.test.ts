/**
 * Connect tokens (DESIGN.md §6): standard HS256 JWTs with `sub` = participant id and `exp`,
 * checked here against an independent node:crypto implementation.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { base64UrlDecode, base64UrlEncode, safeEqual, signConnectToken, verifyConnectToken } from "../../src/router/tokens";

const SECRET = "a-connect-token-secret-of-32-chars";
const NOW_S = 1_730_000_000;
const EXP_S = NOW_S + 3600;

/** An HS256 JWT built with node:crypto only, from raw header and payload JSON text. */
function nodeJwt(secret: string, headerJson: string, payloadJson: string): string {
  const header = Buffer.from(headerJson).toString("base64url");
  const payload = Buffer.from(payloadJson).toString("base64url");
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

const HS256 = JSON.stringify({ alg: "HS256", typ: "JWT" });

describe("signConnectToken", () => {
  it("produces a standard HS256 JWT: base64url header and claims, HMAC-SHA256 signature", async () => {
    const token = await signConnectToken(SECRET, "alice", EXP_S);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    expect(JSON.parse(Buffer.from(payload, "base64url").toString())).toEqual({ sub: "alice", exp: EXP_S });
    expect(signature).toBe(createHmac("sha256", SECRET).update(`${header}.${payload}`).digest("base64url"));
  });

  it("signature depends on the secret", async () => {
    const a = await signConnectToken(SECRET, "alice", EXP_S);
    const b = await signConnectToken(`${SECRET}x`, "alice", EXP_S);
    expect(a.split(".").slice(0, 2)).toEqual(b.split(".").slice(0, 2));
    expect(a.split(".")[2]).not.toBe(b.split(".")[2]);
  });
});

describe("verifyConnectToken", () => {
  it("accepts its own tokens for the right participant before expiry", async () => {
    const token = await signConnectToken(SECRET, "room-1:alice.cam_2", EXP_S);
    expect(await verifyConnectToken(SECRET, token, "room-1:alice.cam_2", NOW_S)).toEqual({ ok: true });
    expect(await verifyConnectToken(SECRET, token, "room-1:alice.cam_2", EXP_S - 1)).toEqual({ ok: true });
  });

  it("accepts a token signed by another JWT implementation (extra header fields, other key order, extra claims)", async () => {
    const token = nodeJwt(SECRET, JSON.stringify({ typ: "JWT", kid: "k1", alg: "HS256" }), JSON.stringify({ iat: NOW_S, exp: EXP_S, sub: "bob", aud: "x" }));
    expect(await verifyConnectToken(SECRET, token, "bob", NOW_S)).toEqual({ ok: true });
  });

  it("rejects a wrong secret", async () => {
    const token = await signConnectToken("another-secret-entirely-32-chars!", "alice", EXP_S);
    expect(await verifyConnectToken(SECRET, token, "alice", NOW_S)).toEqual({ ok: false, reason: "bad token signature" });
  });

  it("rejects a token for another participant", async () => {
    const token = await signConnectToken(SECRET, "alice", EXP_S);
    expect(await verifyConnectToken(SECRET, token, "bob", NOW_S)).toEqual({ ok: false, reason: "token is for another participant" });
    expect(await verifyConnectToken(SECRET, token, "Alice", NOW_S)).toEqual({ ok: false, reason: "token is for another participant" });
    expect(await verifyConnectToken(SECRET, token, "alice ", NOW_S)).toEqual({ ok: false, reason: "token is for another participant" });
  });

  it("rejects an expired token, including exactly at exp", async () => {
    const token = await signConnectToken(SECRET, "alice", EXP_S);
    expect(await verifyConnectToken(SECRET, token, "alice", EXP_S)).toEqual({ ok: false, reason: "token expired" });
    expect(await verifyConnectToken(SECRET, token, "alice", EXP_S + 1)).toEqual({ ok: false, reason: "token expired" });
  });

  it("rejects a signed token without a numeric exp", async () => {
    for (const claims of [{ sub: "alice" }, { sub: "alice", exp: String(EXP_S) }, { sub: "alice", exp: null }]) {
      const token = nodeJwt(SECRET, HS256, JSON.stringify(claims));
      expect(await verifyConnectToken(SECRET, token, "alice", NOW_S)).toEqual({ ok: false, reason: "token expired" });
    }
  });

  it("rejects a tampered payload (sub or exp changed, signature kept)", async () => {
    const token = await signConnectToken(SECRET, "alice", EXP_S);
    const [header, , signature] = token.split(".");
    for (const claims of [{ sub: "bob", exp: EXP_S }, { sub: "alice", exp: EXP_S + 86_400 }]) {
      const forged = `${header}.${base64UrlEncode(new TextEncoder().encode(JSON.stringify(claims)))}.${signature}`;
      expect(await verifyConnectToken(SECRET, forged, claims.sub, NOW_S)).toEqual({ ok: false, reason: "bad token signature" });
    }
  });

  it("rejects a tampered signature", async () => {
    const token = await signConnectToken(SECRET, "alice", EXP_S);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
    expect(await verifyConnectToken(SECRET, `${header}.${payload}.${flipped}`, "alice", NOW_S)).toEqual({ ok: false, reason: "bad token signature" });
    expect(await verifyConnectToken(SECRET, `${header}.${payload}.`, "alice", NOW_S)).toMatchObject({ ok: false });
    expect(await verifyConnectToken(SECRET, `${header}.${payload}.${signature.slice(0, 20)}`, "alice", NOW_S)).toMatchObject({ ok: false });
  });

  it('rejects alg "none" and other algorithms, even with a valid HMAC', async () => {
    const payload = JSON.stringify({ sub: "alice", exp: EXP_S });
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(payload).toString("base64url")}.`;
    expect(await verifyConnectToken(SECRET, none, "alice", NOW_S)).toEqual({ ok: false, reason: "unsupported token algorithm" });
    for (const alg of ["none", "HS512", "RS256", "hs256"]) {
      const token = nodeJwt(SECRET, JSON.stringify({ alg, typ: "JWT" }), payload);
      expect(await verifyConnectToken(SECRET, token, "alice", NOW_S)).toEqual({ ok: false, reason: "unsupported token algorithm" });
    }
    for (const header of ["null", "[]", '"HS256"', "{}"]) {
      const token = nodeJwt(SECRET, header, payload);
      expect(await verifyConnectToken(SECRET, token, "alice", NOW_S)).toEqual({ ok: false, reason: "unsupported token algorithm" });
    }
  });

  it.each([
    ["empty", ""],
    ["one part", "abc"],
    ["two parts", "abc.def"],
    ["four parts", "a.b.c.d"],
    ["non-base64url header", "!!!.e30.sig"],
    ["padded base64", "eyJhbGciOiJIUzI1NiJ9=.e30.sig"],
    ["header not JSON", `${Buffer.from("not json").toString("base64url")}.e30.sig`],
  ])("rejects malformed tokens: %s", async (_name, token) => {
    expect(await verifyConnectToken(SECRET, token, "alice", NOW_S)).toEqual({ ok: false, reason: "malformed token" });
  });

  it("rejects a correctly signed payload that is not a JSON object", async () => {
    for (const payload of ["not json", "null", "42", '"alice"']) {
      const token = nodeJwt(SECRET, HS256, payload);
      expect(await verifyConnectToken(SECRET, token, "alice", NOW_S)).toEqual({ ok: false, reason: "malformed token" });
    }
  });

  it("never accepts arbitrary strings, and never throws", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 200 }), async (token) => {
        const check = await verifyConnectToken(SECRET, token, "alice", NOW_S);
        expect(check.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips any participant id and expiry", async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), fc.integer({ min: NOW_S + 1, max: NOW_S + 86_400 }), async (id, exp) => {
        const token = await signConnectToken(SECRET, id, exp);
        expect(await verifyConnectToken(SECRET, token, id, NOW_S)).toEqual({ ok: true });
        expect(await verifyConnectToken(SECRET, token, `${id}x`, NOW_S)).toMatchObject({ ok: false });
      }),
      { numRuns: 100 },
    );
  });
});

describe("base64url", () => {
  it("matches Node's base64url both ways", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = base64UrlEncode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64url"));
        expect([...base64UrlDecode(text)]).toEqual([...bytes]);
      }),
    );
  });

  it("rejects characters outside the base64url alphabet", () => {
    for (const text of ["a+b", "a/b", "ab==", "a b", "é"]) expect(() => base64UrlDecode(text)).toThrow();
  });
});

describe("safeEqual", () => {
  it("is true only for identical strings", () => {
    expect(safeEqual("admin-key", "admin-key")).toBe(true);
    expect(safeEqual("", "")).toBe(true);
    expect(safeEqual("admin-key", "admin-kez")).toBe(false);
    expect(safeEqual("admin-key", "admin-ke")).toBe(false);
    expect(safeEqual("admin-ke", "admin-key")).toBe(false);
    expect(safeEqual("", "a")).toBe(false);
    expect(safeEqual("a", "")).toBe(false);
    expect(safeEqual("abcabc", "abc")).toBe(false); // would match if the shorter one simply wrapped around
    expect(safeEqual("é", "e\u0301")).toBe(false);
  });

  it("agrees with === on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        expect(safeEqual(a, b)).toBe(a === b);
        expect(safeEqual(a, a)).toBe(true);
      }),
    );
  });
});
