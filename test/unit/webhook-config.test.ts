/**
 * Webhook vars (docs/DESIGN.md §7): WEBHOOK_URLS, WEBHOOK_SECRET, WEBHOOK_RETRY_SCHEDULE and
 * WEBHOOK_TIMEOUT_MS, failing closed with every problem listed and the secret never echoed.
 */
import { describe, expect, it } from "vitest";
import { parseWebhookConfig } from "../../src/webhooks/config";
import { WEBHOOK_RETRY_SCHEDULE_MS } from "../../src/config/limits";
import { formatWebhookSecret } from "../../src/webhooks/signing";

const SECRET = formatWebhookSecret(new Uint8Array(32).fill(9));

describe("parseWebhookConfig", () => {
  it("is off with no vars: no URLs, default schedule and timeout", () => {
    expect(parseWebhookConfig({})).toEqual({
      urls: [],
      secretKey: null,
      previousSecretKey: null,
      scheduleMs: [...WEBHOOK_RETRY_SCHEDULE_MS],
      windowMs: 3 * 24 * 3_600_000,
      timeoutMs: 10_000,
      runBudgetMs: 30_000,
    });
  });

  it("reads comma-separated URLs (deduplicated), the secret, the schedule and the timeout", () => {
    const config = parseWebhookConfig({
      WEBHOOK_URLS: " https://a.example/hook , http://127.0.0.1:8788/sink,https://a.example/hook ",
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_SCHEDULE: "200,400,800",
      WEBHOOK_TIMEOUT_MS: "2000",
    });
    expect(config.urls).toEqual(["https://a.example/hook", "http://127.0.0.1:8788/sink"]);
    expect(config.secretKey).toEqual(new Uint8Array(32).fill(9));
    expect(config.scheduleMs).toEqual([200, 400, 800]);
    expect(config.timeoutMs).toBe(2_000);
  });

  it("fails closed when URLs are set without a secret", () => {
    expect(() => parseWebhookConfig({ WEBHOOK_URLS: "https://a.example/" })).toThrow(/WEBHOOK_SECRET is not set/);
  });

  it("lists every problem at once and never echoes the secret", () => {
    const bad = "whsec_c2hvcnQ=";
    let message = "";
    try {
      parseWebhookConfig({ WEBHOOK_URLS: "ftp://x.example/,not a url", WEBHOOK_SECRET: bad, WEBHOOK_RETRY_SCHEDULE: "5x", WEBHOOK_TIMEOUT_MS: "5" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('"ftp://x.example/" must be http(s)');
    expect(message).toContain('"not a url" is not a URL');
    expect(message).toContain("decodes to 5 bytes");
    expect(message).toContain("WEBHOOK_RETRY_SCHEDULE entry 1");
    expect(message).toContain("WEBHOOK_TIMEOUT_MS");
    expect(message).not.toContain("c2hvcnQ");
  });

  it("reads WEBHOOK_SECRET_PREVIOUS (rotation) and WEBHOOK_RETRY_WINDOW", () => {
    const previous = formatWebhookSecret(new Uint8Array(32).fill(8));
    const config = parseWebhookConfig({ WEBHOOK_URLS: "https://a.example/", WEBHOOK_SECRET: SECRET, WEBHOOK_SECRET_PREVIOUS: previous, WEBHOOK_RETRY_WINDOW: "90s" });
    expect(config.previousSecretKey).toEqual(new Uint8Array(32).fill(8));
    expect(config.windowMs).toBe(90_000);
    // The same secret twice signs once.
    expect(parseWebhookConfig({ WEBHOOK_URLS: "https://a.example/", WEBHOOK_SECRET: SECRET, WEBHOOK_SECRET_PREVIOUS: SECRET }).previousSecretKey).toBeNull();
  });

  it("refuses a bad previous secret, a previous secret alone, and a bad window, naming each var", () => {
    expect(() => parseWebhookConfig({ WEBHOOK_URLS: "https://a.example/", WEBHOOK_SECRET: SECRET, WEBHOOK_SECRET_PREVIOUS: "nope" })).toThrow(/WEBHOOK_SECRET_PREVIOUS must look like/);
    expect(() => parseWebhookConfig({ WEBHOOK_SECRET_PREVIOUS: SECRET })).toThrow(/WEBHOOK_SECRET_PREVIOUS is set but WEBHOOK_SECRET is not/);
    expect(() => parseWebhookConfig({ WEBHOOK_RETRY_WINDOW: "forever" })).toThrow(/WEBHOOK_RETRY_WINDOW="forever"/);
    expect(() => parseWebhookConfig({ WEBHOOK_TIMEOUT_MS: "25000" })).toThrow(/WEBHOOK_TIMEOUT_MS="25000" must be an integer in \[100, 20000\]/);
  });

  it("caps the number of URLs", () => {
    const urls = Array.from({ length: 11 }, (_, i) => `https://h${i}.example/`).join(",");
    expect(() => parseWebhookConfig({ WEBHOOK_URLS: urls, WEBHOOK_SECRET: SECRET })).toThrow(/at most 10/);
  });
});
