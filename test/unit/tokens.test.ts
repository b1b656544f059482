/**
 * Connect tokens (docs/DESIGN.md §6): HS256 JWTs signed and verified with hono/jwt, checked here against
 * an independent node:crypto implementation. Every failure mode is tried and none is accepted.
 */
import { createHmac, generateKeyPairSync, sign as rsaSign } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CONNECT_TOKEN_LEEWAY_S, CONNECT_TOKEN_MAX_TTL_S } from "../../src/config/limits";
import { safeEqual, signConnectToken, verifyConnectToken, type TokenFailure, type VerifyRequest } from "../../src/router/tokens";
import { base64Decode, base64Encode, base64UrlDecode, base64UrlEncode } from "../../src/shared/base64";

const SECRET = "a-connect-token-secret-of-32-chars";
const PREVIOUS = "the-previous-secret-being-rotated-out";
const NOW_S = Math.floor(Date.now() / 1000);
const EXP_S = NOW_S + 3600;
const WANT: VerifyRequest = { participantId: "alice", endpoint: "stream", nowS: NOW_S };

/** An HS256-signed JWT built with node:crypto only, from raw header and payload JSON text. */
function nodeJwt(secret: string, headerJson: string, payloadJson: string): string {
  const header = Buffer.from(headerJson).toString("base64url");
  const payload = Buffer.from(payloadJson).toString("base64url");
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

const HS256 = JSON.stringify({ alg: "HS256", typ: "JWT" });
const claims = (extra: Record<string, unknown> = {}) => JSON.stringify({ sub: "alice", iat: NOW_S, exp: EXP_S, ...extra });

async function failure(token: string, want: Partial<VerifyRequest> = {}, secrets = [SECRET]): Promise<TokenFailure | "accepted"> {
  const check = await verifyConnectToken(secrets, token, { ...WANT, ...want });
  return check.ok ? "accepted" : check.failure;
}

describe("signConnectToken", () => {
  it("produces a standard HS256 JWT with sub, iat, exp (and scope when asked)", async () => {
    const token = await signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S, scope: "sfu" });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    expect(JSON.parse(Buffer.from(payload, "base64url").toString())).toEqual({ sub: "alice", iat: NOW_S, exp: EXP_S, scope: "sfu" });
    expect(signature).toBe(createHmac("sha256", SECRET).update(`${header}.${payload}`).digest("base64url"));
  });

  it("refuses to mint a token living longer than the cap", async () => {
    await expect(signConnectToken(SECRET, { participantId: "a", issuedAtS: NOW_S, expiresAtS: NOW_S + CONNECT_TOKEN_MAX_TTL_S + 1 })).rejects.toThrow(RangeError);
  });
});

describe("verifyConnectToken accepts", () => {
  it("its own tokens, and a token from another JWT implementation (extra header fields, key order, extra claims)", async () => {
    const own = await signConnectToken(SECRET, { participantId: "room-1:alice.cam_2", issuedAtS: NOW_S, expiresAtS: EXP_S });
    expect(await failure(own, { participantId: "room-1:alice.cam_2" })).toBe("accepted");
    const other = nodeJwt(SECRET, JSON.stringify({ typ: "JWT", kid: "k1", alg: "HS256" }), JSON.stringify({ aud: "x", exp: EXP_S, sub: "alice", iat: NOW_S }));
    expect(await failure(other)).toBe("accepted");
  });

  it("clock skew within the leeway: exp just passed, nbf and iat just ahead", async () => {
    const skew = CONNECT_TOKEN_LEEWAY_S - 1;
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S - 600, exp: NOW_S - skew })))).toBe("accepted");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ nbf: NOW_S + skew })))).toBe("accepted");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S + skew })))).toBe("accepted");
  });

  it("a token signed with CONNECT_TOKEN_SECRET_PREVIOUS while it is still configured", async () => {
    const old = await signConnectToken(PREVIOUS, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S });
    expect(await failure(old, {}, [SECRET, PREVIOUS])).toBe("accepted");
  });

  it("scope stream on /stream, sfu on the adapter feeds, no scope on both", async () => {
    const token = (scope?: "stream" | "sfu") => signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S, ...(scope ? { scope } : {}) });
    expect(await failure(await token("stream"), { endpoint: "stream" })).toBe("accepted");
    expect(await failure(await token("sfu"), { endpoint: "sfu" })).toBe("accepted");
    expect(await failure(await token(), { endpoint: "stream" })).toBe("accepted");
    expect(await failure(await token(), { endpoint: "sfu" })).toBe("accepted");
  });
});

describe("verifyConnectToken rejects (0 accepted)", () => {
  it.each<[string, string, TokenFailure]>([
    ["empty", "", "malformed"],
    ["one part", "abc", "malformed"],
    ["two parts", "abc.def", "malformed"],
    ["four parts", "a.b.c.d", "malformed"],
    ["non-base64url header", "!!!.e30.sig", "malformed"],
    ["header not JSON", `${Buffer.from("not json").toString("base64url")}.e30.sig`, "malformed"],
    ["huge", `${"a".repeat(5000)}.b.c`, "malformed"],
  ])("malformed: %s", async (_name, token, expected) => {
    expect(await failure(token)).toBe(expected);
  });

  it("a correctly signed payload that is not a JSON object, or lacks a string sub", async () => {
    for (const payload of ["not json", "null", "42", '"alice"', "[]"]) expect(await failure(nodeJwt(SECRET, HS256, payload))).toBe("malformed");
    expect(await failure(nodeJwt(SECRET, HS256, JSON.stringify({ exp: EXP_S })))).toBe("malformed");
    expect(await failure(nodeJwt(SECRET, HS256, JSON.stringify({ sub: 7, exp: EXP_S })))).toBe("malformed");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ exp: String(EXP_S) })))).toBe("malformed");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ nbf: "soon" })))).toBe("malformed");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ scope: "admin" })))).toBe("malformed");
  });

  it("no exp: an expiry is required", async () => {
    expect(await failure(nodeJwt(SECRET, HS256, JSON.stringify({ sub: "alice", iat: NOW_S })))).toBe("no_expiry");
    expect(await failure(nodeJwt(SECRET, HS256, JSON.stringify({ sub: "alice" })))).toBe("no_expiry");
  });

  it('alg "none" (unsigned), RS256 (a real RSA signature), HS512, lower-case, and headers that are not objects', async () => {
    const payload = Buffer.from(claims()).toString("base64url");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
    expect(await failure(none)).toBe("unsupported_algorithm");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsHeader = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url");
    const rs256 = `${rsHeader}.${payload}.${rsaSign("sha256", Buffer.from(`${rsHeader}.${payload}`), privateKey).toString("base64url")}`;
    expect(await failure(rs256)).toBe("unsupported_algorithm");
    for (const alg of ["none", "HS512", "RS256", "hs256", "ES256"]) {
      expect(await failure(nodeJwt(SECRET, JSON.stringify({ alg, typ: "JWT" }), claims())), alg).toBe("unsupported_algorithm");
    }
    for (const header of ["null", "[]", '"HS256"', "{}", JSON.stringify({ alg: "HS256", crit: ["x"] })]) {
      expect(await failure(nodeJwt(SECRET, header, claims())), header).toBe("unsupported_algorithm");
    }
  });

  it("tampered: payload changed (sub, exp, scope) with the signature kept, or the signature changed", async () => {
    const token = await signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S, scope: "sfu" });
    const [header, payload, signature] = token.split(".") as [string, string, string];
    for (const forged of [{ sub: "bob" }, { exp: EXP_S + 600 }, { scope: "stream" }]) {
      const body = { sub: "alice", iat: NOW_S, exp: EXP_S, scope: "sfu", ...forged };
      const tampered = `${header}.${base64UrlEncode(new TextEncoder().encode(JSON.stringify(body)))}.${signature}`;
      expect(await failure(tampered, { participantId: body.sub, endpoint: body.scope as "stream" | "sfu" })).toBe("bad_signature");
    }
    const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
    expect(await failure(`${header}.${payload}.${flipped}`, { endpoint: "sfu" })).toBe("bad_signature");
    expect(await failure(`${header}.${payload}.`, { endpoint: "sfu" })).toBe("bad_signature");
    expect(await failure(`${header}.${payload}.${signature.slice(0, 20)}`, { endpoint: "sfu" })).toBe("bad_signature");
  });

  it("expired: at or past exp beyond the leeway", async () => {
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S - 600, exp: NOW_S - CONNECT_TOKEN_LEEWAY_S })))).toBe("expired");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S - 7200, exp: NOW_S - 3600 })))).toBe("expired");
  });

  it("not yet valid: nbf beyond the leeway; iat in the future", async () => {
    expect(await failure(nodeJwt(SECRET, HS256, claims({ nbf: NOW_S + CONNECT_TOKEN_LEEWAY_S + 1 })))).toBe("not_yet_valid");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S + CONNECT_TOKEN_LEEWAY_S + 1 })))).toBe("issued_in_future");
  });

  it("over-long lifetime, enforced at verification even with a valid signature", async () => {
    const max = CONNECT_TOKEN_MAX_TTL_S + CONNECT_TOKEN_LEEWAY_S;
    expect(await failure(nodeJwt(SECRET, HS256, claims({ exp: NOW_S + max + 1 })))).toBe("lifetime_too_long");
    expect(await failure(nodeJwt(SECRET, HS256, JSON.stringify({ sub: "alice", exp: NOW_S + 30 * 86_400 })))).toBe("lifetime_too_long");
    // An old iat with a near exp: the token claims to have lived 100 days.
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S - 100 * 86_400, exp: NOW_S + 60 })))).toBe("lifetime_too_long");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ iat: NOW_S, exp: NOW_S + max })))).toBe("accepted");
  });

  it("wrong participant (case, whitespace, prefix)", async () => {
    const token = await signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S });
    for (const other of ["bob", "Alice", "alice ", "alic", "alice2"]) expect(await failure(token, { participantId: other })).toBe("wrong_participant");
  });

  it("wrong scope: a stream token on an SFU feed and an sfu token on the stream", async () => {
    const stream = await signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S, scope: "stream" });
    const sfu = await signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S, scope: "sfu" });
    expect(await failure(stream, { endpoint: "sfu" })).toBe("wrong_scope");
    expect(await failure(sfu, { endpoint: "stream" })).toBe("wrong_scope");
  });

  it("a rotated-out secret: signed with a secret no longer configured, or with another secret entirely", async () => {
    const old = await signConnectToken(PREVIOUS, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S });
    expect(await failure(old, {}, [SECRET])).toBe("bad_signature");
    const foreign = await signConnectToken("another-secret-entirely-32-chars!", { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S });
    expect(await failure(foreign, {}, [SECRET, PREVIOUS])).toBe("bad_signature");
  });

  it("never accepts arbitrary strings, never throws, never echoes the token in its reason", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 300 }), async (token) => {
        const check = await verifyConnectToken([SECRET], token, WANT);
        expect(check.ok).toBe(false);
        if (!check.ok && token.length > 3) expect(check.reason).not.toContain(token);
      }),
      { numRuns: 300 },
    );
  });

  it("never accepts a valid token with any one character changed", async () => {
    const token = await signConnectToken(SECRET, { participantId: "alice", issuedAtS: NOW_S, expiresAtS: EXP_S });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.constantFrom(..."ABCabc019-_."), async (at, ch) => {
        fc.pre(token[at] !== ch);
        // The last base64url character of the signature carries 2 padding bits: changing only those is not a change.
        fc.pre(!(at === token.length - 1));
        const mutated = token.slice(0, at) + ch + token.slice(at + 1);
        expect((await verifyConnectToken([SECRET], mutated, WANT)).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("round-trips any participant id, lifetime and scope", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
        fc.integer({ min: 1, max: CONNECT_TOKEN_MAX_TTL_S }),
        fc.constantFrom<"stream" | "sfu" | undefined>("stream", "sfu", undefined),
        async (id, ttl, scope) => {
          const token = await signConnectToken(SECRET, { participantId: id, issuedAtS: NOW_S, expiresAtS: NOW_S + ttl, ...(scope ? { scope } : {}) });
          expect(await failure(token, { participantId: id, endpoint: scope ?? "stream" })).toBe("accepted");
          expect(await failure(token, { participantId: `${id}x`, endpoint: scope ?? "stream" })).toBe("wrong_participant");
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("base64 (the one helper module)", () => {
  it("matches Node's base64 and base64url both ways", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(base64Encode(bytes)).toBe(Buffer.from(bytes).toString("base64"));
        expect([...base64Decode(Buffer.from(bytes).toString("base64"))]).toEqual([...bytes]);
        const text = base64UrlEncode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64url"));
        expect([...base64UrlDecode(text)]).toEqual([...bytes]);
      }),
    );
  });

  it("rejects characters outside the base64url alphabet and impossible lengths", () => {
    for (const text of ["a+b", "a/b", "a b", "é", "abcde"]) expect(() => base64UrlDecode(text)).toThrow(TypeError);
  });

  it("decodes standard base64 only when padded and in its own alphabet", () => {
    for (const text of ["YWJj", "YWI=", "YQ==", ""]) expect(base64Decode(text)).toEqual(new Uint8Array(Buffer.from(text, "base64")));
    for (const text of ["YWI", "YQ", "YW-_", "YW Jj", "YQ=", "Y==="]) expect(() => base64Decode(text)).toThrow(TypeError);
  });
});

describe("safeEqual", () => {
  it("is true only for identical strings", async () => {
    expect(await safeEqual("admin-key", "admin-key")).toBe(true);
    expect(await safeEqual("", "")).toBe(true);
    for (const [a, b] of [["admin-key", "admin-kez"], ["admin-key", "admin-ke"], ["admin-ke", "admin-key"], ["", "a"], ["abcabc", "abc"], ["é", "e\u0301"]] as const) {
      expect(await safeEqual(a, b)).toBe(false);
    }
  });

  it("agrees with === on arbitrary strings", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), async (a, b) => {
        expect(await safeEqual(a, b)).toBe(a === b);
      }),
      { numRuns: 200 },
    );
  });
});

describe("the room claim and the watch scope (DESIGN.md §12)", () => {
  it("a participant token carries its room; a watch token opens only its own room's watch socket", async () => {
    const member = nodeJwt(SECRET, HS256, claims({ room: "panel-1" }));
    const check = await verifyConnectToken([SECRET], member, WANT);
    expect(check.ok && check.claims.room).toBe("panel-1");
    const watch = nodeJwt(SECRET, HS256, claims({ scope: "watch", room: "panel-1" }));
    const want = { participantId: null, endpoint: "watch" as const, room: "panel-1" };
    expect(await failure(watch, want)).toBe("accepted");
    expect(await failure(watch, { ...want, room: "panel-2" })).toBe("wrong_room");
    expect(await failure(member, want)).toBe("wrong_scope");
    expect(await failure(nodeJwt(SECRET, HS256, claims({ scope: "stream", room: "panel-1" })), want)).toBe("wrong_scope");
    expect(await failure(watch)).toBe("wrong_scope"); // not a stream token
    expect(await failure(nodeJwt(SECRET, HS256, claims({ room: "bad room" })))).toBe("malformed");
  });
});
