/**
 * One on-demand check's window (docs/DESIGN.md §13), as plain data: when it started and ends, the results
 * seen within it and each track's latest level, and the tracks sent upstream during it. Pure
 * functions decide when it is answered and how it ended. No Workers imports.
 */
import { CHECK_DEFAULT_DURATION_S, CHECK_MAX_DURATION_S } from "../config/limits.js";
import type { CheckOutcome } from "../protocol/events.js";
import type { Level } from "../protocol/levels.js";

export interface CheckRecord {
  checkId: string;
  startedMs: number;
  untilMs: number;
  /** Results (clear, suspicious, alert) seen within the window. */
  results: number;
  /** Each track's latest level within the window, in the order the tracks first answered. */
  tracks: Array<{ trackId: string; level: Level }>;
  /** Tracks a FrameRequest was sent upstream for during the window: the check waits for them too. */
  sent: string[];
}

/** A new window of `durationS` seconds from nowMs. */
export function openWindow(checkId: string, durationS: number, nowMs: number): CheckRecord {
  return { checkId, startedMs: nowMs, untilMs: nowMs + durationS * 1000, results: 0, tracks: [], sent: [] };
}

/** The record after one result of `trackId` at `level` (the caller checks it is within the window). */
export function withResult(record: CheckRecord, trackId: string, level: Level): CheckRecord {
  const tracks = record.tracks.filter((t) => t.trackId !== trackId);
  const at = record.tracks.findIndex((t) => t.trackId === trackId);
  tracks.splice(at === -1 ? tracks.length : at, 0, { trackId, level });
  return { ...record, results: record.results + 1, tracks };
}

/** The record after a FrameRequest for `trackId` went upstream (unchanged when already noted). */
export function withSent(record: CheckRecord, trackId: string): CheckRecord {
  return record.sent.includes(trackId) ? record : { ...record, sent: [...record.sent, trackId] };
}

/**
 * Answered: at least one result, and every track that counts towards the level now (`counting`)
 * and every track sent upstream during the window has answered within it.
 */
export function isAnswered(record: CheckRecord, counting: readonly string[]): boolean {
  if (record.results === 0) return false;
  const answered = new Set(record.tracks.map((t) => t.trackId));
  return counting.every((id) => answered.has(id)) && record.sent.every((id) => answered.has(id));
}

/** How a window that has ended came out. */
export function outcomeAtEnd(record: CheckRecord, counting: readonly string[]): CheckOutcome {
  if (record.results === 0) return "no_media";
  return isAnswered(record, counting) ? "answered" : "window_ended";
}

export type DurationResult = { ok: true; durationS: number } | { ok: false; message: string };

/**
 * A requested window in seconds: absent, null or 0 mean the default (CHECK_DEFAULT_DURATION_S);
 * otherwise a whole number from 1 to CHECK_MAX_DURATION_S.
 */
export function checkDuration(raw: unknown): DurationResult {
  if (raw === undefined || raw === null || raw === 0) return { ok: true, durationS: CHECK_DEFAULT_DURATION_S };
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > CHECK_MAX_DURATION_S) {
    const shown = JSON.stringify(raw)?.slice(0, 32) ?? String(raw);
    return {
      ok: false,
      message:
        `duration_s must be a whole number of seconds from 1 to ${CHECK_MAX_DURATION_S} (0 or absent: ` +
        `${CHECK_DEFAULT_DURATION_S}), got ${shown}`,
    };
  }
  return { ok: true, durationS: raw };
}

/** Longest body `POST /v1/participants/:id/checks` reads. */
const CHECK_BODY_MAX_CHARS = 1_024;

/** The body of `POST /v1/participants/:id/checks`: empty, or JSON `{"duration_s": n}`. */
export function parseCheckRequest(text: string): DurationResult & { error?: string } {
  if (text.trim() === "") return checkDuration(undefined);
  const usage = 'body must be empty or JSON {"duration_s": 10}';
  if (text.length > CHECK_BODY_MAX_CHARS) return { ok: false, error: "bad_json", message: usage };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, error: "bad_json", message: usage };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, error: "bad_json", message: usage };
  const duration = checkDuration((body as { duration_s?: unknown }).duration_s);
  return duration.ok ? duration : { ...duration, error: "bad_duration" };
}
