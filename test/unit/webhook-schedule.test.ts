/**
 * Webhook retry schedule (DESIGN.md §7): the default Standard Webhooks schedule, the
 * WEBHOOK_RETRY_SCHEDULE parser, Retry-After, jitter bounds and response classes.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
  RetryScheduleError,
  WEBHOOK_RETRY_AFTER_MAX_MS,
  classifyResponse,
  maxWebhookAttempts,
  nextAttemptDelayMs,
  parseRetryAfter,
  parseRetrySchedule,
} from "../../src/webhooks/schedule";

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);

describe("default schedule", () => {
  it("is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: ten attempts in all", () => {
    expect(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS).toEqual([5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H]);
    expect(maxWebhookAttempts(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS)).toBe(10);
  });
});

describe("parseRetrySchedule", () => {
  it("reads units and plain milliseconds", () => {
    expect(parseRetrySchedule("5s,5m,30m,2h")).toEqual([5 * S, 5 * M, 30 * M, 2 * H]);
    expect(parseRetrySchedule("200,400,800")).toEqual([200, 400, 800]);
    expect(parseRetrySchedule(" 250ms , 1.5s, 1d ")).toEqual([250, 1_500, 24 * H]);
    expect(parseRetrySchedule("5S,2H")).toEqual([5 * S, 2 * H]);
  });

  it("blank is the default schedule, none is a single attempt", () => {
    expect(parseRetrySchedule("")).toEqual(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS);
    expect(parseRetrySchedule("  ")).toEqual(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS);
    expect(parseRetrySchedule("none")).toEqual([]);
  });

  it.each([
    ["5s,,5m", /entry 2 \(""\)/],
    ["5x", /entry 1 \("5x"\).*ms\|s\|m\|h\|d/],
    ["-5s", /entry 1/],
    ["0", /between 1 ms and 7 days/],
    ["8d", /between 1 ms and 7 days/],
    ["1e3", /entry 1/],
    [Array.from({ length: 51 }, () => "1s").join(","), /51 entries; at most 50/],
  ])("refuses %j with a clear error", (text, message) => {
    expect(() => parseRetrySchedule(text)).toThrow(RetryScheduleError);
    expect(() => parseRetrySchedule(text)).toThrow(message);
  });

  it("never throws anything but RetryScheduleError on arbitrary input (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          const schedule = parseRetrySchedule(text);
          for (const ms of schedule) expect(Number.isInteger(ms) && ms >= 1).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(RetryScheduleError);
        }
      }),
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds", () => {
    expect(parseRetryAfter("120", NOW_MS)).toBe(120 * S);
    expect(parseRetryAfter(" 0 ", NOW_MS)).toBe(0);
  });

  it("reads an HTTP date relative to now; a past date is 0", () => {
    expect(parseRetryAfter(new Date(NOW_MS + 90 * S).toUTCString(), NOW_MS)).toBe(90 * S);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", NOW_MS)).toBe(0);
  });

  it("caps far-away values at 24 h", () => {
    expect(parseRetryAfter("999999999", NOW_MS)).toBe(WEBHOOK_RETRY_AFTER_MAX_MS);
    expect(parseRetryAfter(new Date(NOW_MS + 30 * 24 * H).toUTCString(), NOW_MS)).toBe(24 * H);
  });

  it.each([null, "", "soon", "-5", "1.5", "12abc"])("ignores %j", (header) => {
    expect(parseRetryAfter(header, NOW_MS)).toBeNull();
  });
});

describe("nextAttemptDelayMs", () => {
  const schedule = [1_000, 10_000, 100_000];
  const mid = () => 0.5;

  it("takes the entry for the attempt just failed, and null once exhausted", () => {
    expect(nextAttemptDelayMs(1, schedule, null, mid)).toBe(1_000);
    expect(nextAttemptDelayMs(2, schedule, null, mid)).toBe(10_000);
    expect(nextAttemptDelayMs(3, schedule, null, mid)).toBe(100_000);
    expect(nextAttemptDelayMs(4, schedule, null, mid)).toBeNull();
    expect(nextAttemptDelayMs(1, [], null, mid)).toBeNull();
    // The default: 9 retries after the first attempt, none after the tenth.
    expect(nextAttemptDelayMs(9, DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, null, mid)).toBe(24 * H);
    expect(nextAttemptDelayMs(10, DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, null, mid)).toBeNull();
  });

  it("spreads each delay by ±10 %", () => {
    expect(nextAttemptDelayMs(2, schedule, null, () => 0)).toBe(9_000);
    expect(nextAttemptDelayMs(2, schedule, null, () => 0.999_999_9)).toBe(11_000);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 3 }), (r, attempts) => {
        const base = schedule[attempts - 1]!;
        const delay = nextAttemptDelayMs(attempts, schedule, null, () => r)!;
        expect(delay).toBeGreaterThanOrEqual(base * 0.9);
        expect(delay).toBeLessThanOrEqual(base * 1.1);
      }),
    );
  });

  it("honours Retry-After only when it is longer than the scheduled delay", () => {
    expect(nextAttemptDelayMs(1, schedule, 60_000, mid)).toBe(60_000);
    expect(nextAttemptDelayMs(3, schedule, 60_000, mid)).toBe(100_000);
    expect(nextAttemptDelayMs(1, schedule, 0, mid)).toBe(1_000);
    // Retry-After does not extend an exhausted schedule.
    expect(nextAttemptDelayMs(4, schedule, 60_000, mid)).toBeNull();
  });

  it("refuses attemptsSoFar < 1", () => {
    expect(() => nextAttemptDelayMs(0, schedule, null, mid)).toThrow(RangeError);
    expect(() => nextAttemptDelayMs(1.5, schedule, null, mid)).toThrow(RangeError);
  });
});

describe("classifyResponse", () => {
  it.each([
    [200, "delivered"],
    [201, "delivered"],
    [204, "delivered"],
    [299, "delivered"],
    [410, "failed"],
    [301, "retry"],
    [400, "retry"],
    [401, "retry"],
    [404, "retry"],
    [429, "retry"],
    [500, "retry"],
    [503, "retry"],
    [null, "retry"],
  ] as const)("%s -> %s", (status, kind) => {
    expect(classifyResponse(status)).toBe(kind);
  });
});
