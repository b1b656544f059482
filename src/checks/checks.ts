/**
 * On-demand checks (docs/DESIGN.md §13), a capability of the participant object (src/session/capability.ts).
 *
 * A check opens a window (default 10 s, at most 60 s) in which the object samples video at the burst
 * rate and lets the next speech chunk through inside AUDIO_INTERVAL_S. It answers at once with the
 * check id and the window's end, and sends `check_started`; it completes when every counting track
 * (and every track sent upstream during the window) has answered within it, or when the window ends,
 * with `check_completed`: committed with its webhook outbox rows in one transaction, then pushed to
 * the sockets, the room and the webhooks. One check runs at a time (a second request joins it), and
 * new checks are rate-limited per participant (CHECK_RATE_MAX per CHECK_RATE_WINDOW_S).
 *
 * The running check is stored, and its end is this part's deadline on the object's one alarm, so a
 * window ends on time even after an eviction or a restart. Pure: storage, sockets and sampling are
 * injected through ChecksHost.
 */
import { CHECK_RATE_MAX, CHECK_RATE_WINDOW_S } from "../config/limits.js";
import {
  newCheckId,
  newEventId,
  type CheckCompleted,
  type CheckOutcome,
  type CheckStarted,
} from "../protocol/events.js";
import type { Level } from "../protocol/levels.js";
import { refuse, type Answer } from "../shared/http.js";
import { errorMessage, type log as Log } from "../shared/log.js";
import type { Capability } from "../session/capability.js";
import type { CheckLedger } from "./store.js";
import {
  checkDuration,
  isAnswered,
  openWindow,
  outcomeAtEnd,
  withResult,
  withSent,
  type CheckRecord,
} from "./window.js";

/** A completion whose commit failed is tried again this much later (from the alarm). */
const COMPLETE_RETRY_MS = 1_000;

export type CheckEvent = CheckStarted | CheckCompleted;

/**
 * What `POST /v1/participants/:id/checks` and the `Check` message get: the running check, and
 * whether it was joined.
 */
export interface CheckAccepted {
  check_id: string;
  until_ms: number;
  /** True when a check was already running and this request joined it. */
  joined: boolean;
}

export interface ChecksHost {
  /** The participant the object serves, or null before one connected. */
  participantId(): string | null;
  /** The participant's room (docs/DESIGN.md §12), or null. */
  roomId(): string | null;
  /** The participant's level now. */
  level(): Level;
  /** Tracks that count towards the level at nowMs (docs/DESIGN.md §4). */
  countingTracks(nowMs: number): string[];
  /** True when the built-in simulator answers: every completed check says so. */
  simulated: boolean;
  /** Runs `write` in one storage transaction; throws (and writes nothing) when storage fails. */
  transaction(write: () => void): void;
  /** Queues the event's webhook rows; called inside the transaction. */
  enqueueWebhooks(eventId: string, body: string, nowMs: number): void;
  broadcast(event: CheckEvent): void;
  /** A check began (true) or ended (false): burst sampling, rate events and the check's speech chunk follow. */
  samplingChanged(checking: boolean, nowMs: number): void;
  /** Durable webhook rows were added: deliver them now (the alarm retries). */
  deliverWebhooks(): void;
  /** This part's deadline moved: re-arm the object's alarm. */
  rearm(): void;
  /** The room's watchers get check events too (docs/DESIGN.md §12); never awaited, never throws into the check. */
  reportToRoom(event: CheckEvent): void;
  count(name: "checks_started" | "checks_completed" | "storage_errors"): void;
  log: typeof Log;
}

export class Checks implements Capability {
  readonly name = "checks";
  #running: CheckRecord | null = null;
  #loaded = false;
  /** Set when completing failed: the alarm tries again then. */
  #retryAtMs: number | null = null;

  constructor(
    private readonly ledger: () => CheckLedger | null,
    private readonly host: ChecksHost,
  ) {}

  /** The running check, if any (for a socket that joins while it runs). */
  running(nowMs: number): CheckStarted | null {
    const record = this.#current();
    return record && nowMs < record.untilMs ? this.#startedEvent(record) : null;
  }

  /**
   * Starts a check of `durationRaw` seconds (absent or 0: the default), or joins the running one.
   * Refused with 400 for a bad duration and 429 over the rate limit; 404 without a session.
   */
  start(durationRaw: unknown, nowMs: number): Answer<CheckAccepted> {
    const duration = checkDuration(durationRaw);
    if (!duration.ok) return refuse(400, "bad_check", duration.message);
    const ledger = this.ledger();
    const participantId = this.host.participantId();
    if (!ledger || !participantId)
      return refuse(404, "unknown_participant", "no session is stored for this participant");
    if ((this.#current()?.untilMs ?? Infinity) <= nowMs) this.onDeadline(nowMs); // its alarm has not run yet
    const running = this.#current();
    if (running) return { ok: true, value: { check_id: running.checkId, until_ms: running.untilMs, joined: true } };
    const windowMs = CHECK_RATE_WINDOW_S * 1000;
    const recent = ledger.startedAfter(nowMs - windowMs);
    if (recent.length >= CHECK_RATE_MAX) {
      const retryS = Math.max(1, Math.ceil((recent[recent.length - CHECK_RATE_MAX]! + windowMs - nowMs) / 1000));
      const rule = `at most ${CHECK_RATE_MAX} checks per participant every ${CHECK_RATE_WINDOW_S} s`;
      return refuse(429, "check_rate_limited", `${rule}; the next one can start in ${retryS} s`);
    }
    const record = openWindow(newCheckId(nowMs), duration.durationS, nowMs);
    try {
      ledger.open(record);
    } catch (err) {
      this.host.count("storage_errors");
      this.host.log("error", "storing a check failed", { participant: participantId, reason: errorMessage(err) });
      throw err;
    }
    this.#running = record;
    this.host.count("checks_started");
    this.host.log("info", "check started", {
      participant: participantId,
      check: record.checkId,
      until_ms: record.untilMs,
    });
    const started = this.#startedEvent(record);
    this.host.broadcast(started);
    this.host.samplingChanged(true, nowMs);
    this.host.rearm();
    this.host.reportToRoom(started);
    return { ok: true, value: { check_id: record.checkId, until_ms: record.untilMs, joined: false } };
  }

  /** A completed check's stored `check_completed` JSON (webhook redelivery after its body was dropped). */
  eventJson(eventId: string): string | null {
    return this.ledger()?.eventJson(eventId) ?? null;
  }

  /** A result (clear, suspicious, alert) of `trackId` was applied: the check may be answered now. */
  onResult(trackId: string, level: Level, nowMs: number): void {
    const record = this.#current();
    if (!record || nowMs >= record.untilMs) return;
    this.#running = withResult(record, trackId, level);
    this.#saveProgress();
    if (isAnswered(this.#running, this.host.countingTracks(nowMs))) this.#complete("answered", nowMs);
  }

  /** A FrameRequest for `trackId` went upstream: a running check waits for its answer too. */
  trackSent(trackId: string, nowMs: number): void {
    const record = this.#current();
    if (!record || nowMs >= record.untilMs) return;
    const next = withSent(record, trackId);
    if (next === record) return;
    this.#running = next;
    this.#saveProgress();
  }

  nextDeadline(): number | null {
    const record = this.#current();
    if (!record) return null;
    return this.#retryAtMs ?? record.untilMs;
  }

  /** The window ended (or a failed completion is due again). */
  onDeadline(nowMs: number): void {
    const record = this.#current();
    if (!record) return;
    const counting = this.host.countingTracks(nowMs);
    if (nowMs >= record.untilMs) return this.#complete(outcomeAtEnd(record, counting), nowMs);
    if (this.#retryAtMs === null || nowMs < this.#retryAtMs) return;
    this.#retryAtMs = null;
    if (isAnswered(record, counting)) this.#complete("answered", nowMs);
  }

  /** After a restart: a stored running check runs on (burst sampling again) until its deadline. */
  onStart(_participantId: string, nowMs: number): void {
    this.#loaded = false;
    const record = this.#current();
    if (record && nowMs < record.untilMs) this.host.samplingChanged(true, nowMs);
  }

  onPurge(): void {
    this.#running = null;
    this.#loaded = false;
    this.#retryAtMs = null;
  }

  /** The running check, read from storage once per instance. */
  #current(): CheckRecord | null {
    if (!this.#loaded) {
      const ledger = this.ledger();
      if (!ledger) return null;
      this.#running = ledger.running();
      this.#loaded = true;
    }
    return this.#running;
  }

  #saveProgress(): void {
    try {
      if (this.#running) this.ledger()?.progress(this.#running);
    } catch (err) {
      // Memory keeps the results; only a restart before the window ends would lose them.
      this.host.log("warn", "saving a check's progress failed", {
        participant: this.host.participantId(),
        reason: errorMessage(err),
      });
    }
  }

  /** Commits the completed check with its webhook rows, then tells the sockets, the room and the webhooks. */
  #complete(outcome: CheckOutcome, nowMs: number): void {
    const record = this.#running;
    const ledger = this.ledger();
    const participantId = this.host.participantId();
    if (!record || !ledger || !participantId) return;
    const event: CheckCompleted = {
      type: "check_completed",
      id: newEventId(nowMs),
      check_id: record.checkId,
      participant_id: participantId,
      room_id: this.host.roomId(),
      level: this.host.level(),
      outcome,
      results: record.results,
      tracks: record.tracks.map((t) => ({ track_id: t.trackId, level: t.level })),
      started_ms: record.startedMs,
      completed_ms: nowMs,
      simulated: this.host.simulated,
    };
    const body = JSON.stringify(event);
    try {
      this.host.transaction(() => {
        ledger.complete(record.checkId, event.id, body);
        this.host.enqueueWebhooks(event.id, body, nowMs);
      });
    } catch (err) {
      this.host.count("storage_errors");
      this.host.log("error", "storing a completed check failed; retrying", {
        participant: participantId,
        check: record.checkId,
        reason: errorMessage(err),
      });
      this.#retryAtMs = nowMs + COMPLETE_RETRY_MS;
      this.host.rearm();
      return;
    }
    this.#running = null;
    this.#retryAtMs = null;
    this.host.count("checks_completed");
    this.host.log("info", "check completed", {
      participant: participantId,
      check: record.checkId,
      outcome,
      results: record.results,
    });
    this.host.broadcast(event);
    this.host.samplingChanged(false, nowMs);
    this.host.deliverWebhooks();
    this.host.rearm();
    this.host.reportToRoom(event);
  }

  #startedEvent(record: CheckRecord): CheckStarted {
    return {
      type: "check_started",
      check_id: record.checkId,
      participant_id: this.host.participantId() ?? "",
      room_id: this.host.roomId(),
      until_ms: record.untilMs,
    };
  }
}
