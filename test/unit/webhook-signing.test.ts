/**
 * Standard Webhooks signing (docs/DESIGN.md §7), checked with the official `standardwebhooks` package:
 * what a consumer runs is what must accept our headers.
 */
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { formatWebhookSecret, parseWebhookSecret, signWebhook, webhookHeaders, WebhookSecretError } from "../../src/webhooks/signing";

// The example secret of the Standard Webhooks spec (24 bytes).
const SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY = JSON.stringify({
  type: "deepfake_alert",
  id: "evt_0m2abc",
  level: "alert",
  previous_level: "suspicious",
  participant_id: "alice",
  track_id: "cam",
  message: "face swap — ünïcode ok",
  timestamp_ms: 1_730_123_456_789,
});

const nowS = () => Math.floor(Date.now() / 1000);

describe("parseWebhookSecret", () => {
  it("decodes whsec_<base64> into the raw key", () => {
    const raw = randomBytes(32);
    expect(Buffer.from(parseWebhookSecret(`whsec_${raw.toString("base64")}`))).toEqual(raw);
    expect(parseWebhookSecret(SPEC_SECRET)).toHaveLength(24);
    expect(parseWebhookSecret(`  ${SPEC_SECRET}\n`)).toHaveLength(24);
  });

  it.each([
    ["no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", /whsec_<base64>/],
    ["empty", "whsec_", /padded base64/],
    ["not base64", "whsec_not*base64!", /padded base64/],
    ["unpadded", `whsec_${randomBytes(25).toString("base64").replace(/=+$/, "")}`, /padded base64/],
    ["too short", `whsec_${randomBytes(8).toString("base64")}`, /8 bytes/],
    ["too long", `whsec_${randomBytes(65).toString("base64")}`, /65 bytes/],
  ])("refuses a secret with %s, with a message that does not echo it", (_name, secret, message) => {
    expect(() => parseWebhookSecret(secret)).toThrow(WebhookSecretError);
    expect(() => parseWebhookSecret(secret)).toThrow(message);
    try {
      parseWebhookSecret(secret);
    } catch (err) {
      const encoded = secret.slice("whsec_".length);
      if (encoded.length > 4) expect((err as Error).message).not.toContain(encoded);
    }
  });

  it("round-trips with formatWebhookSecret", () => {
    const raw = new Uint8Array(randomBytes(40));
    expect(parseWebhookSecret(formatWebhookSecret(raw))).toEqual(raw);
  });
});

describe("signWebhook", () => {
  it("is v1,<base64 HMAC-SHA256 of id.timestamp.body> (checked against node:crypto)", async () => {
    const key = parseWebhookSecret(SPEC_SECRET);
    const expected = createHmac("sha256", key).update(`evt_1.1700000000.${BODY}`).digest("base64");
    expect(await signWebhook(key, "evt_1", 1_700_000_000, BODY)).toBe(`v1,${expected}`);
  });

  it("matches the official library's own signer", async () => {
    const key = parseWebhookSecret(SPEC_SECRET);
    const official = new Webhook(SPEC_SECRET).sign("evt_2", new Date(1_700_000_000_000), BODY);
    expect(await signWebhook(key, "evt_2", 1_700_000_000, BODY)).toBe(official);
  });

  it("refuses a fractional timestamp or an empty id", async () => {
    const key = parseWebhookSecret(SPEC_SECRET);
    await expect(signWebhook(key, "evt_1", 1.5, BODY)).rejects.toThrow(RangeError);
    await expect(signWebhook(key, "", 1, BODY)).rejects.toThrow(RangeError);
  });
});

describe("webhookHeaders verified by standardwebhooks Webhook.verify", () => {
  it("sends webhook-id, webhook-timestamp, webhook-signature and content-type", async () => {
    const key = parseWebhookSecret(SPEC_SECRET);
    const ts = nowS();
    const headers = await webhookHeaders(key, "evt_abc", ts, BODY);
    expect(Object.keys(headers).sort()).toEqual(["content-type", "webhook-id", "webhook-signature", "webhook-timestamp"]);
    expect(headers["webhook-id"]).toBe("evt_abc");
    expect(headers["webhook-timestamp"]).toBe(String(ts));
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(SPEC_SECRET).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it("fails verification for a tampered body, id, timestamp or another secret", async () => {
    const key = parseWebhookSecret(SPEC_SECRET);
    const ts = nowS();
    const headers = await webhookHeaders(key, "evt_abc", ts, BODY);
    const wh = new Webhook(SPEC_SECRET);
    expect(() => wh.verify(BODY.replace('"alert"', '"clear"'), headers)).toThrow(/signature/i);
    expect(() => wh.verify(BODY, { ...headers, "webhook-id": "evt_other" })).toThrow(/signature/i);
    expect(() => wh.verify(BODY, { ...headers, "webhook-timestamp": String(ts - 1) })).toThrow(/signature/i);
    expect(() => new Webhook(formatWebhookSecret(new Uint8Array(randomBytes(32)))).verify(BODY, headers)).toThrow(/signature/i);
  });

  it("verifies for any key, id and body (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 24, maxLength: 64 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        fc.string({ unit: "grapheme", maxLength: 200 }),
        async (raw, id, message) => {
          const secret = formatWebhookSecret(raw);
          const body = JSON.stringify({ type: "deepfake_alert", id, message });
          const headers = await webhookHeaders(parseWebhookSecret(secret), id, nowS(), body);
          expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("secret rotation: webhookHeaders with the current and the previous key", () => {
  const current = formatWebhookSecret(new Uint8Array(32).fill(1));
  const previous = formatWebhookSecret(new Uint8Array(32).fill(2));

  it("carries one v1 signature per key, space-separated; the official library accepts it under either key only", async () => {
    const headers = await webhookHeaders([parseWebhookSecret(current), parseWebhookSecret(previous)], "evt_rot", nowS(), BODY);
    const [first, second, ...rest] = headers["webhook-signature"].split(" ");
    expect(rest).toEqual([]);
    expect(first).toBe(await signWebhook(parseWebhookSecret(current), "evt_rot", Number(headers["webhook-timestamp"]), BODY));
    expect(second).toBe(await signWebhook(parseWebhookSecret(previous), "evt_rot", Number(headers["webhook-timestamp"]), BODY));
    expect(new Webhook(current).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(new Webhook(previous).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(formatWebhookSecret(new Uint8Array(32).fill(3))).verify(BODY, headers)).toThrow(/signature/i);
  });

  it("one key gives one signature, no key is refused", async () => {
    const headers = await webhookHeaders([parseWebhookSecret(current)], "evt_one", nowS(), BODY);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    await expect(webhookHeaders([], "evt_none", nowS(), BODY)).rejects.toThrow(RangeError);
  });
});
