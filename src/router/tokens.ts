/**
 * HS256 connect tokens (DESIGN.md §6): `sub` = participant id, `exp` = expiry (seconds).
 * WebCrypto only, so it runs in workerd and Node alike.
 */

const encoder = new TextEncoder();

export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

export async function signConnectToken(secret: string, participantId: string, expiresAtS: number): Promise<string> {
  const header = base64UrlEncode(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = base64UrlEncode(encoder.encode(JSON.stringify({ sub: participantId, exp: expiresAtS })));
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), encoder.encode(`${header}.${payload}`));
  return `${header}.${payload}.${base64UrlEncode(new Uint8Array(signature))}`;
}

export type TokenCheck = { ok: true } | { ok: false; reason: string };

/** Verifies signature, algorithm, expiry and that the token is for this participant. */
export async function verifyConnectToken(secret: string, token: string, participantId: string, nowS: number): Promise<TokenCheck> {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed token" };
  const [header, payload, signature] = parts as [string, string, string];
  let claims: unknown;
  try {
    const head = JSON.parse(new TextDecoder().decode(base64UrlDecode(header))) as unknown;
    if (typeof head !== "object" || head === null || (head as { alg?: unknown }).alg !== "HS256") {
      return { ok: false, reason: "unsupported token algorithm" };
    }
    const valid = await crypto.subtle.verify(
      "HMAC",
      await hmacKey(secret, "verify"),
      base64UrlDecode(signature),
      encoder.encode(`${header}.${payload}`),
    );
    if (!valid) return { ok: false, reason: "bad token signature" };
    claims = JSON.parse(new TextDecoder().decode(base64UrlDecode(payload))) as unknown;
  } catch {
    return { ok: false, reason: "malformed token" };
  }
  if (typeof claims !== "object" || claims === null) return { ok: false, reason: "malformed token" };
  const { sub, exp } = claims as { sub?: unknown; exp?: unknown };
  if (typeof exp !== "number" || exp <= nowS) return { ok: false, reason: "token expired" };
  if (sub !== participantId) return { ok: false, reason: "token is for another participant" };
  return { ok: true };
}

/** Constant-time comparison for API keys. */
export function safeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i % x.length] ?? 0) ^ (y[i % y.length] ?? 0);
  return diff === 0;
}
