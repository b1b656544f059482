/**
 * Standard Webhooks signing (docs/DESIGN.md §7): `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">` with a `whsec_<base64>` secret, so consumers verify with the official
 * `standardwebhooks` library. WebCrypto only: runs in workerd and Node alike.
 */
import { base64Decode, base64Encode } from "../shared/base64.js";

export const WEBHOOK_SECRET_PREFIX = "whsec_";
/** The spec asks for secrets of 24 to 64 random bytes; shorter ones are refused. */
export const WEBHOOK_SECRET_MIN_BYTES = 24;
export const WEBHOOK_SECRET_MAX_BYTES = 64;

export class WebhookSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookSecretError";
  }
}

const encoder = new TextEncoder();

/**
 * Decodes `whsec_<standard padded base64>` into the raw HMAC key. The message never contains the
 * secret itself, so it is safe to log.
 */
export function parseWebhookSecret(secret: string, name = "WEBHOOK_SECRET"): Uint8Array<ArrayBuffer> {
  const text = secret.trim();
  if (!text.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new WebhookSecretError(
      `${name} must look like "${WEBHOOK_SECRET_PREFIX}<base64>" (the Standard Webhooks format)`,
    );
  }
  let key: Uint8Array<ArrayBuffer>;
  try {
    key = base64Decode(text.slice(WEBHOOK_SECRET_PREFIX.length));
  } catch {
    key = new Uint8Array(0);
  }
  if (key.length === 0) {
    throw new WebhookSecretError(`${name} after "${WEBHOOK_SECRET_PREFIX}" must be standard, padded base64`);
  }
  if (key.length < WEBHOOK_SECRET_MIN_BYTES || key.length > WEBHOOK_SECRET_MAX_BYTES) {
    throw new WebhookSecretError(
      `${name} decodes to ${key.length} bytes; ` +
        `use ${WEBHOOK_SECRET_MIN_BYTES}-${WEBHOOK_SECRET_MAX_BYTES} random bytes ` +
        `(e.g. "${WEBHOOK_SECRET_PREFIX}$(openssl rand -base64 32)")`,
    );
  }
  return key;
}

/** The inverse of parseWebhookSecret: `whsec_<base64>` for a raw key (tests, docs). */
export function formatWebhookSecret(key: Uint8Array): string {
  return `${WEBHOOK_SECRET_PREFIX}${base64Encode(key)}`;
}

/** Imported keys, cached per key array (a deployment has one secret). */
const keyCache = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKey(secretKey: Uint8Array): Promise<CryptoKey> {
  let key = keyCache.get(secretKey);
  if (!key) {
    key = crypto.subtle.importKey("raw", new Uint8Array(secretKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keyCache.set(secretKey, key);
  }
  return key;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestampS.body">`, the `webhook-signature` header value. */
export async function signWebhook(
  secretKey: Uint8Array,
  id: string,
  timestampS: number,
  body: string,
): Promise<string> {
  if (!Number.isSafeInteger(timestampS) || timestampS < 0) {
    throw new RangeError(`webhook timestamp must be whole seconds since the epoch, got ${timestampS}`);
  }
  if (id === "") throw new RangeError("webhook id must not be empty");
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secretKey), encoder.encode(`${id}.${timestampS}.${body}`));
  return `v1,${base64Encode(new Uint8Array(mac))}`;
}

export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
  "content-type": "application/json";
  [name: string]: string;
}

/**
 * The request headers of one delivery attempt. Use a fresh timestamp per attempt. With several keys
 * (a secret rotation: the current one first, then the previous one) the signature header carries one
 * `v1,` signature per key, space-separated, as the spec allows: a consumer holding either key accepts it.
 */
export async function webhookHeaders(
  secretKeys: Uint8Array | readonly Uint8Array[],
  id: string,
  timestampS: number,
  body: string,
): Promise<WebhookHeaders> {
  const keys = secretKeys instanceof Uint8Array ? [secretKeys] : secretKeys;
  if (keys.length === 0) throw new RangeError("at least one webhook signing key is needed");
  const signatures = await Promise.all(keys.map((key) => signWebhook(key, id, timestampS, body)));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampS),
    "webhook-signature": signatures.join(" "),
    "content-type": "application/json",
  };
}
