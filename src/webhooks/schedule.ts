/**
 * Webhook retry schedule (DESIGN.md §7): an immediate attempt, then one retry per schedule entry,
 * with jitter, honouring Retry-After. Pure: no Workers or Node imports.
 */

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The Standard Webhooks example: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (10 attempts in all). */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  5 * SECOND_MS,
  5 * MINUTE_MS,
  30 * MINUTE_MS,
  2 * HOUR_MS,
  5 * HOUR_MS,
  10 * HOUR_MS,
  14 * HOUR_MS,
  20 * HOUR_MS,
  24 * HOUR_MS,
]);
/** Each retry delay is spread by ±10 % so consumers recovering from an outage are not stampeded. */
export const WEBHOOK_RETRY_JITTER_RATIO = 0.1;
/** A Retry-After further out than this is cut to it. */
export const WEBHOOK_RETRY_AFTER_MAX_MS = DAY_MS;
/** Bounds of a configured schedule. */
export const WEBHOOK_RETRY_MAX_ENTRIES = 50;
export const WEBHOOK_RETRY_MAX_DELAY_MS = 7 * DAY_MS;

export class RetryScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryScheduleError";
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };
const ENTRY = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/**
 * Parses a WEBHOOK_RETRY_SCHEDULE var: comma-separated delays between attempts, each a number with
 * an optional unit (ms, s, m, h, d; none means ms): "5s,5m,30m,2h" or "200,400,800". Blank means
 * the default schedule; "none" means no retries (a single attempt).
 */
export function parseRetrySchedule(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === "") return [...DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS];
  if (trimmed.toLowerCase() === "none") return [];
  const parts = trimmed.split(",").map((part) => part.trim().toLowerCase());
  if (parts.length > WEBHOOK_RETRY_MAX_ENTRIES) {
    throw new RetryScheduleError(`WEBHOOK_RETRY_SCHEDULE has ${parts.length} entries; at most ${WEBHOOK_RETRY_MAX_ENTRIES} are allowed`);
  }
  return parts.map((part, index) => {
    const match = ENTRY.exec(part);
    if (!match) {
      throw new RetryScheduleError(
        `WEBHOOK_RETRY_SCHEDULE entry ${index + 1} (${JSON.stringify(part)}) must be a number with an optional unit ms|s|m|h|d, e.g. "5s,5m,30m,2h"`,
      );
    }
    const delayMs = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!);
    if (delayMs < 1 || delayMs > WEBHOOK_RETRY_MAX_DELAY_MS) {
      throw new RetryScheduleError(
        `WEBHOOK_RETRY_SCHEDULE entry ${index + 1} (${JSON.stringify(part)}) must be between 1 ms and ${WEBHOOK_RETRY_MAX_DELAY_MS / DAY_MS} days`,
      );
    }
    return delayMs;
  });
}

/** Attempts made in total for a schedule: the immediate one plus one per entry. */
export function maxWebhookAttempts(schedule: readonly number[]): number {
  return schedule.length + 1;
}

/**
 * Milliseconds a Retry-After header asks to wait: delta-seconds or an HTTP date, capped at
 * WEBHOOK_RETRY_AFTER_MAX_MS; a date in the past gives 0. Null when absent or unparseable.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (text === "") return null;
  let delayMs: number;
  if (/^\d+$/.test(text)) {
    delayMs = Number(text) * SECOND_MS;
  } else {
    // Only accept something that looks like a date (weekday/month names), not arbitrary numbers.
    if (!/[a-z]/i.test(text)) return null;
    const atMs = Date.parse(text);
    if (Number.isNaN(atMs)) return null;
    delayMs = Math.max(0, atMs - nowMs);
  }
  return Math.min(delayMs, WEBHOOK_RETRY_AFTER_MAX_MS);
}

/**
 * Delay before the next attempt, after `attemptsSoFar` (>= 1) failed ones: the schedule entry
 * spread by ±jitterRatio, or Retry-After when that is longer. Null when the schedule is exhausted.
 */
export function nextAttemptDelayMs(
  attemptsSoFar: number,
  schedule: readonly number[],
  retryAfterMs: number | null,
  random: () => number = Math.random,
  jitterRatio: number = WEBHOOK_RETRY_JITTER_RATIO,
): number | null {
  if (!Number.isInteger(attemptsSoFar) || attemptsSoFar < 1) {
    throw new RangeError(`attemptsSoFar must be an integer >= 1, got ${attemptsSoFar}`);
  }
  const baseMs = schedule[attemptsSoFar - 1];
  if (baseMs === undefined) return null;
  const scheduledMs = Math.max(0, Math.round(baseMs * (1 + jitterRatio * (2 * random() - 1))));
  return retryAfterMs !== null && retryAfterMs > scheduledMs ? Math.round(retryAfterMs) : scheduledMs;
}

export type ResponseClass = "delivered" | "retry" | "failed";

/** 2xx is delivered; 410 Gone is permanent (stop); anything else, or null for a network error, retries. */
export function classifyResponse(status: number | null): ResponseClass {
  if (status === null) return "retry";
  if (status >= 200 && status <= 299) return "delivered";
  if (status === 410) return "failed";
  return "retry";
}
