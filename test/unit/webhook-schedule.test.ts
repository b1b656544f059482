/**
 * Webhook retry schedule (docs/DESIGN.md §7): the default real-time schedule and its recovery guarantees
 * under jitter, the WEBHOOK_RETRY_SCHEDULE and WEBHOOK_RETRY_WINDOW parsers, Retry-After, jitter
 * bounds, the age-aware schedule index and response classes.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { WEBHOOK_RETRY_SCHEDULE_MS } from "../../src/config/limits";
import {
  RetryScheduleError,
  classifyResponse,
  formatDuration,
  maxWebhookAttempts,
  nextAttemptAtMs,
  nextAttemptDelayMs,
  parseRetryAfter,
  parseRetrySchedule,
  parseRetryWindow,
  scheduleIndex,
} from "../../src/webhooks/schedule";
import { WEBHOOK_RETRY_AFTER_MAX_MS, WEBHOOK_RETRY_WINDOW_MS, WEBHOOK_TIMEOUT_MS } from "../../src/config/limits";

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);

const D = 24 * H;

/**
 * Attempt start times of one event whose consumer never accepts, as the delivery run computes them:
 * each failed attempt takes `durationMs()` (a refused connection is ~0, a hanging consumer the
 * timeout), each delay is jittered by `random()`, the alarm fires `lateMs()` after it was due.
 */
function attemptTimes(random: () => number, durationMs: () => number, lateMs: () => number, windowMs = WEBHOOK_RETRY_WINDOW_MS): number[] {
  const times = [0];
  for (let attempts = 1; ; attempts++) {
    const startedMs = times[times.length - 1]!;
    const endedMs = startedMs + durationMs();
    const at = nextAttemptAtMs({ attemptsSoFar: attempts, schedule: WEBHOOK_RETRY_SCHEDULE_MS, createdMs: 0, startedMs, endedMs, retryAfterMs: null, windowMs, random });
    if (at === null || at >= windowMs) return times;
    times.push(at + lateMs());
  }
}

/** Wait from a consumer's recovery at `recoveredMs` (event age) to the first attempt that starts after it. */
function waitAfter(times: number[], recoveredMs: number): number {
  const next = times.find((t) => t >= recoveredMs);
  return next === undefined ? Infinity : next - recoveredMs;
}

describe("default schedule", () => {
  it("is dense first, then backs off, and outlasts the 3-day window that ends it", () => {
    const s = WEBHOOK_RETRY_SCHEDULE_MS;
    expect(s.slice(0, 5)).toEqual([1 * S, 2 * S, 4 * S, 8 * S, 10 * S]);
    expect(s.filter((d) => d === 10 * S)).toHaveLength(12);
    expect(s.filter((d) => d === 50 * S)).toHaveLength(78);
    expect(Math.max(...s)).toBe(6 * H);
    expect(maxWebhookAttempts(s)).toBe(115);
    // Even with every delay 10 % short, the window (not the schedule) ends the retries.
    const totalMs = s.reduce((a, b) => a + b, 0);
    expect(totalMs * 0.9).toBeGreaterThan(WEBHOOK_RETRY_WINDOW_MS);
    expect(WEBHOOK_RETRY_WINDOW_MS).toBe(3 * D);
    // Non-decreasing: it only ever backs off.
    for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThanOrEqual(s[i - 1]!);
    expect(parseRetrySchedule("1s,2s,4s,8s,10s*12,50s*78,2m,5m,10m,20m,30m,1h,2h,4h,6h*12")).toEqual(s);
  });

  it("holds the recovery guarantees under any jitter, slow failures and late alarms (property)", () => {
    fc.assert(
      fc.property(
        fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
        fc.constantFrom(0, 1, WEBHOOK_TIMEOUT_MS),
        fc.integer({ min: 0, max: 120 * S }),
        fc.integer({ min: 0, max: 3_600 * S }),
        (jitter, failMs, shortOutageMs, longOutageMs) => {
          const it = jitter[Symbol.iterator]();
          const times = attemptTimes(() => it.next().value as number, () => failMs, () => 0);
          // Every pending event within 15 s of a consumer back from an outage of up to 2 min (11 s
          // with the jitter, leaving 4 s for the alarm and the backlog), within 60 s up to 1 h (55 s).
          expect(waitAfter(times, shortOutageMs)).toBeLessThanOrEqual(11_000);
          expect(waitAfter(times, longOutageMs)).toBeLessThanOrEqual(55_000);
          // Retries continue for 3 days: the last one falls in the last 7 hours of the window.
          expect(times[times.length - 1]!).toBeGreaterThan(3 * D - 7 * H);
          expect(times[times.length - 1]!).toBeLessThan(3 * D);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a late alarm only adds its own lateness to the wait", () => {
    const times = attemptTimes(() => 0.999, () => 0, () => 500);
    for (const outageMs of [20 * S, 60 * S, 120 * S]) expect(waitAfter(times, outageMs)).toBeLessThanOrEqual(11_000 + 500);
  });
});

describe("nextAttemptAtMs", () => {
  const base = { schedule: [1_000, 10_000, 100_000], createdMs: 0, retryAfterMs: null, windowMs: 1_000_000, random: () => 0.5 };

  it("counts the delay from the failed attempt's start, never before it ended", () => {
    expect(nextAttemptAtMs({ ...base, attemptsSoFar: 1, startedMs: 0, endedMs: 200 })).toBe(1_000);
    expect(nextAttemptAtMs({ ...base, attemptsSoFar: 1, startedMs: 0, endedMs: 5_000 })).toBe(5_000);
  });

  it("honours a longer Retry-After from the attempt's end, and never goes past the window", () => {
    expect(nextAttemptAtMs({ ...base, attemptsSoFar: 1, startedMs: 0, endedMs: 100, retryAfterMs: 30_000 })).toBe(30_100);
    expect(nextAttemptAtMs({ ...base, windowMs: 120_000, attemptsSoFar: 3, startedMs: 50_000, endedMs: 50_010 })).toBe(120_000);
    expect(nextAttemptAtMs({ ...base, attemptsSoFar: 1, startedMs: 0, endedMs: 100, retryAfterMs: 2_000_000 })).toBe(1_000_000);
  });

  it("is null once the schedule is exhausted", () => {
    expect(nextAttemptAtMs({ ...base, attemptsSoFar: 4, startedMs: 0, endedMs: 0 })).toBeNull();
  });
});

describe("scheduleIndex", () => {
  it("follows the attempt count, or the event's age when that is further along", () => {
    const schedule = [1_000, 2_000, 4_000, 8_000];
    expect(scheduleIndex(1, schedule, 0)).toBe(0);
    expect(scheduleIndex(2, schedule, 1_000)).toBe(1);
    expect(scheduleIndex(2, schedule, 900)).toBe(1);
    // An event that waited 7.5 s (behind another, or a Retry-After) is on the 8 s entry.
    expect(scheduleIndex(1, schedule, 7_500)).toBe(3);
    expect(scheduleIndex(1, schedule, 60_000)).toBe(4);
  });
});

describe("parseRetryWindow", () => {
  it("reads durations; blank is 3 days", () => {
    expect(parseRetryWindow("")).toBe(3 * D);
    expect(parseRetryWindow("72h")).toBe(3 * D);
    expect(parseRetryWindow("90s")).toBe(90 * S);
    expect(parseRetryWindow("500ms")).toBe(500);
  });

  it.each(["0", "50ms", "31d", "3 days", "-1h"])("refuses %j", (text) => {
    expect(() => parseRetryWindow(text)).toThrow(/WEBHOOK_RETRY_WINDOW/);
  });

  it("formats durations for messages", () => {
    expect(formatDuration(3 * D)).toBe("3 d");
    expect(formatDuration(90 * S)).toBe("1.5 min");
    expect(formatDuration(2 * S)).toBe("2 s");
    expect(formatDuration(250)).toBe("250 ms");
  });
});

describe("parseRetrySchedule", () => {
  it("reads units and plain milliseconds", () => {
    expect(parseRetrySchedule("5s,5m,30m,2h")).toEqual([5 * S, 5 * M, 30 * M, 2 * H]);
    expect(parseRetrySchedule("200,400,800")).toEqual([200, 400, 800]);
    expect(parseRetrySchedule(" 250ms , 1.5s, 1d ")).toEqual([250, 1_500, 24 * H]);
    expect(parseRetrySchedule("5S,2H")).toEqual([5 * S, 2 * H]);
    expect(parseRetrySchedule("1s,12s*3,2m")).toEqual([S, 12 * S, 12 * S, 12 * S, 2 * M]);
  });

  it("blank is the default schedule, none is a single attempt", () => {
    expect(parseRetrySchedule("")).toEqual(WEBHOOK_RETRY_SCHEDULE_MS);
    expect(parseRetrySchedule("  ")).toEqual(WEBHOOK_RETRY_SCHEDULE_MS);
    expect(parseRetrySchedule("none")).toEqual([]);
  });

  it.each([
    ["5s,,5m", /entry 2 \(""\)/],
    ["5x", /entry 1 \("5x"\).*ms\|s\|m\|h\|d/],
    ["-5s", /entry 1/],
    ["0", /between 1 ms and 7 days/],
    ["8d", /between 1 ms and 7 days/],
    ["1e3", /entry 1/],
    [Array.from({ length: 201 }, () => "1s").join(","), /more than 200 retries/],
    ["1s*150,2s*51", /more than 200 retries/],
    ["1s*0", /repeat count of 0/],
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
    // The default: 114 retries after the first attempt, none after the 115th (the window ends it first).
    expect(nextAttemptDelayMs(114, WEBHOOK_RETRY_SCHEDULE_MS, null, mid)).toBe(6 * H);
    expect(nextAttemptDelayMs(115, WEBHOOK_RETRY_SCHEDULE_MS, null, mid)).toBeNull();
    // By age: an event first tried 2 hours after its creation is not retried after 1 s.
    expect(nextAttemptDelayMs(1, WEBHOOK_RETRY_SCHEDULE_MS, null, mid, 0.1, 2 * H)).toBe(30 * M);
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
