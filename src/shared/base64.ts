/**
 * The one base64 helper module (RFC 4648): standard and URL-safe alphabets, for the SDK's reading of
 * token claims and for anything else that needs it. No Workers or Node imports (atob/btoa exist in
 * browsers, workerd and Node).
 */

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Standard, padded base64 (RFC 4648 section 4), nothing else. */
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard, padded base64 of the bytes. */
export function base64Encode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Unpadded base64url of the bytes (the JWT alphabet). */
export function base64UrlEncode(bytes: Uint8Array): string {
  return base64Encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes standard, padded base64; throws TypeError on anything else (unpadded, URL-safe, spaces). */
export function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  if (!STANDARD_BASE64.test(text)) throw new TypeError("not standard padded base64");
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Decodes unpadded (or padded) base64url; throws TypeError on any other character. */
export function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  const unpadded = text.replace(/=+$/, "");
  if (!BASE64URL.test(unpadded) || unpadded.length % 4 === 1) throw new TypeError("not base64url");
  const standard = unpadded.replace(/-/g, "+").replace(/_/g, "/");
  return base64Decode(standard + "=".repeat((4 - (standard.length % 4)) % 4));
}
