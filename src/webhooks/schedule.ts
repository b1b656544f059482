/**
 * Webhook retry schedule (docs/DESIGN.md §7): an immediate attempt, then one retry per schedule entry,
 * with jitter, honouring Retry-After, inside a retry window counted from the event's creation.
 * Pure: no Workers or Node imports. The defaults live in ../config/limits.ts.
 */
import {
  WEBHOOK_RETRY_AFTER_MAX_MS,
  WEBHOOK_RETRY_JITTER_RATIO,
  WEBHOOK_RETRY_MAX_DELAY_MS,
  WEBHOOK_RETRY_MAX_ENTRIES,
  WEBHOOK_RETRY_SCHEDULE_MS,
  WEBHOOK_RETRY_WINDOW_MAX_MS,
  WEBHOOK_RETRY_WINDOW_MIN_MS,
  WEBHOOK_RETRY_WINDOW_MS,
} from "../config/limits.js";

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export class RetryScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryScheduleError";
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const ENTRY = /^(\d+(?:\.\d+)?(?:ms|s|m|h|d)?)(?:\*(\d+))?$/;

/** "5s", "1.5h", "250" (ms) -> milliseconds, or null when it is not a duration. */
export function parseDurationMs(text: string): number | null {
  const match = DURATION.exec(text.trim().toLowerCase());
  return match ? Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!) : null;
}

/** A duration for messages and docs: "3 d", "90 s", "1.5 h", "250 ms". */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", DAY_MS], ["h", HOUR_MS], ["min", MINUTE_MS], ["s", SECOND_MS]] as const) {
    if (ms >= size) return `${Math.round((ms / size) * 10) / 10} ${unit}`;
  }
  return `${ms} ms`;
}

/**
 * Parses a WEBHOOK_RETRY_SCHEDULE var: comma-separated delays between attempts, each a number with
 * an optional unit (ms, s, m, h, d; none means ms) and an optional repeat count: "5s,5m,30m,2h",
 * "200,400,800" or "1s,2s,10s*12,50s*78". Blank means the default schedule; "none" means no
 * retries (a single attempt).
 */
export function parseRetrySchedule(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === "") return [...WEBHOOK_RETRY_SCHEDULE_MS];
  if (trimmed.toLowerCase() === "none") return [];
  const parts = trimmed.split(",").map((part) => part.trim().toLowerCase());
  const delays: number[] = [];
  parts.forEach((part, index) => {
    const match = ENTRY.exec(part);
    if (!match) {
      throw new RetryScheduleError(
        `WEBHOOK_RETRY_SCHEDULE entry ${index + 1} (${JSON.stringify(part)}) must be a number with an optional ` +
          `unit ms|s|m|h|d and an optional repeat count, e.g. "1s,5s,10s*12,5m"`,
      );
    }
    const delayMs = parseDurationMs(match[1]!)!;
    if (delayMs < 1 || delayMs > WEBHOOK_RETRY_MAX_DELAY_MS) {
      throw new RetryScheduleError(
        `WEBHOOK_RETRY_SCHEDULE entry ${index + 1} (${JSON.stringify(part)}) must be between 1 ms and ` +
          `${WEBHOOK_RETRY_MAX_DELAY_MS / DAY_MS} days`,
      );
    }
    const count = match[2] === undefined ? 1 : Number(match[2]);
    if (count < 1 || delays.length + count > WEBHOOK_RETRY_MAX_ENTRIES) {
      throw new RetryScheduleError(
        `WEBHOOK_RETRY_SCHEDULE has more than ${WEBHOOK_RETRY_MAX_ENTRIES} retries (or a repeat count of 0); ` +
          `at most ${WEBHOOK_RETRY_MAX_ENTRIES} are allowed`,
      );
    }
    for (let i = 0; i < count; i++) delays.push(delayMs);
  });
  return delays;
}

/** Parses WEBHOOK_RETRY_WINDOW ("3d", "72h", "90s", "500ms"); blank means the default (3 days). */
export function parseRetryWindow(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "") return WEBHOOK_RETRY_WINDOW_MS;
  const ms = parseDurationMs(trimmed);
  if (ms === null || ms < WEBHOOK_RETRY_WINDOW_MIN_MS || ms > WEBHOOK_RETRY_WINDOW_MAX_MS) {
    throw new RetryScheduleError(
      `WEBHOOK_RETRY_WINDOW=${JSON.stringify(trimmed)} must be a duration from ${WEBHOOK_RETRY_WINDOW_MIN_MS} ms to ` +
        `${WEBHOOK_RETRY_WINDOW_MAX_MS / DAY_MS} days, e.g. "3d" or "72h"`,
    );
  }
  return ms;
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
 * Which schedule entry the next delay is, after `attemptsSoFar` (>= 1) failed attempts of an event
 * `ageMs` old: the attempt count's entry, or the entry covering the event's age when that is later
 * (an event that waited behind others, or behind a long Retry-After, does not start again at the
 * dense first entries). May be >= schedule.length: exhausted.
 */
export function scheduleIndex(attemptsSoFar: number, schedule: readonly number[], ageMs: number): number {
  let byAge = 0;
  let sumMs = 0;
  while (byAge < schedule.length && sumMs + schedule[byAge]! <= ageMs) sumMs += schedule[byAge++]!;
  return Math.max(attemptsSoFar - 1, byAge);
}

/**
 * Delay before the next attempt, after `attemptsSoFar` (>= 1) failed ones of an event `ageMs` old:
 * the schedule entry (see scheduleIndex) spread by ±jitterRatio, or Retry-After when that is longer.
 * Null when the schedule is exhausted.
 */
export function nextAttemptDelayMs(
  attemptsSoFar: number,
  schedule: readonly number[],
  retryAfterMs: number | null,
  random: () => number = Math.random,
  jitterRatio: number = WEBHOOK_RETRY_JITTER_RATIO,
  ageMs = 0,
): number | null {
  if (!Number.isInteger(attemptsSoFar) || attemptsSoFar < 1) {
    throw new RangeError(`attemptsSoFar must be an integer >= 1, got ${attemptsSoFar}`);
  }
  const baseMs = schedule[scheduleIndex(attemptsSoFar, schedule, ageMs)];
  if (baseMs === undefined) return null;
  const scheduledMs = Math.max(0, Math.round(baseMs * (1 + jitterRatio * (2 * random() - 1))));
  return retryAfterMs !== null && retryAfterMs > scheduledMs ? Math.round(retryAfterMs) : scheduledMs;
}

export interface NextAttemptInput {
  /** Attempts made so far, including the one that just failed (>= 1). */
  attemptsSoFar: number;
  schedule: readonly number[];
  createdMs: number;
  /** When the failed attempt started and ended. */
  startedMs: number;
  endedMs: number;
  retryAfterMs: number | null;
  windowMs: number;
  random?: () => number;
  jitterRatio?: number;
}

/**
 * When the next attempt is due: the jittered delay counted from the failed attempt's start (so a
 * slow failure does not stretch the gaps), never before the attempt ended, never before a
 * Retry-After counted from its end, and never after the retry window closes (the event then fails
 * there). Null when the schedule is exhausted.
 */
export function nextAttemptAtMs(input: NextAttemptInput): number | null {
  const ageMs = input.startedMs - input.createdMs;
  const delayMs = nextAttemptDelayMs(input.attemptsSoFar, input.schedule, null, input.random, input.jitterRatio, ageMs);
  if (delayMs === null) return null;
  let atMs = Math.max(input.startedMs + delayMs, input.endedMs);
  if (input.retryAfterMs !== null) atMs = Math.max(atMs, input.endedMs + Math.round(input.retryAfterMs));
  return Math.min(atMs, input.createdMs + input.windowMs);
}

export type ResponseClass = "delivered" | "retry" | "failed";

/** 2xx is delivered; 410 Gone is permanent (stop); anything else, or null for a network error, retries. */
export function classifyResponse(status: number | null): ResponseClass {
  if (status === null) return "retry";
  if (status >= 200 && status <= 299) return "delivered";
  if (status === 410) return "failed";
  return "retry";
}
