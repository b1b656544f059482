/**
 * The durable webhook outbox (docs/DESIGN.md §7, §8) on the participant object's SQLite: one row per
 * (event, URL), plus one per redelivery. Per URL only the oldest pending row is ever due, so events
 * reach each consumer in order. Rows hold the §7 JSON only (never media), and a delivered row drops
 * its body. Parameterised SQL through the structural SqlLike, so it runs against any SqlStorage.
 */
import { OUTBOX_ERROR_MAX_CHARS, PAGE_MAX_ROWS } from "../config/limits.js";
import type { SqlLike } from "../shared/sql.js";
import type { DeepfakeAlert } from "../protocol/events.js";

export type OutboxStatus = "pending" | "delivered" | "failed";
export const OUTBOX_STATUSES: readonly OutboxStatus[] = ["pending", "delivered", "failed"];

/** A head-of-line pending row ready for an attempt. */
export interface DueDelivery {
  seq: number;
  eventId: string;
  url: string;
  body: string;
  /** Attempts started before this one. */
  attempts: number;
  /** When the row was queued: its retry schedule and window count from here. */
  createdMs: number;
}

/**
 * One claimed attempt, what its outcome is recorded against. The seq alone is not enough: a purge
 * (DELETE, retention) empties the table and restarts the seqs while a request may still be in flight.
 */
export interface DeliveryClaim {
  seq: number;
  eventId: string;
  /** The attempt number claim() returned. */
  attempt: number;
}

/** A row that was failed because its retry window closed. */
export interface ExpiredDelivery {
  seq: number;
  eventId: string;
  url: string;
  attempts: number;
}

/** One row as redelivery needs it. */
export interface OutboxRow {
  seq: number;
  eventId: string;
  url: string;
  status: OutboxStatus;
  /** Null once delivered (§8). */
  body: string | null;
}

/** One outbox row as the `GET /v1/participants/:id/webhooks` route shows it (no body). */
export interface WebhookOutboxEntry {
  seq: number;
  event_id: string;
  url: string;
  status: OutboxStatus;
  attempts: number;
  /** When the next attempt is due (pending rows only), epoch ms. */
  next_attempt_ms: number | null;
  last_error: string | null;
  /** HTTP status of the last attempt; null after a network error or before any attempt. */
  last_status: number | null;
  created_ms: number;
  updated_ms: number;
  /** The seq this row sends again (POST …/redeliver), or null for an event's own row. */
  redelivery_of: number | null;
}

export interface OutboxListOptions {
  status?: OutboxStatus;
  limit: number;
  /** Rows with seq > afterSeq; 0 for the first page. */
  afterSeq?: number;
}

/** The exact §7 JSON: known fields only, in a fixed order. */
export function webhookBody(alert: DeepfakeAlert): string {
  return JSON.stringify({
    type: "deepfake_alert",
    id: alert.id,
    level: alert.level,
    previous_level: alert.previous_level,
    participant_id: alert.participant_id,
    room_id: alert.room_id ?? null,
    track_id: alert.track_id,
    message: alert.message,
    timestamp_ms: alert.timestamp_ms,
    reason: alert.reason,
    simulated: alert.simulated,
  });
}

function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return PAGE_MAX_ROWS;
  return Math.min(PAGE_MAX_ROWS, Math.max(1, Math.floor(limit)));
}

function truncate(error: string | null): string | null {
  return error === null ? null : error.slice(0, OUTBOX_ERROR_MAX_CHARS);
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** Seqs of the oldest pending row per URL: the only rows that may be attempted. */
const HEAD_SEQS = "SELECT MIN(seq) FROM webhook_outbox WHERE status = 'pending' GROUP BY url";

export class WebhookOutbox {
  constructor(private readonly sql: SqlLike) {}

  /**
   * Queues one row per distinct URL, due at nowMs. Idempotent per (event, URL). Call inside the
   * same transactionSync as the history row.
   */
  enqueue(alert: DeepfakeAlert, urls: readonly string[], nowMs: number): void {
    this.enqueueBody(alert.id, webhookBody(alert), urls, nowMs);
  }

  /** Queues an event whose JSON body is built by its owner (a completed check, docs/DESIGN.md §13), like enqueue. */
  enqueueBody(eventId: string, body: string, urls: readonly string[], nowMs: number): void {
    for (const url of new Set(urls)) {
      this.sql.exec(
        `INSERT INTO webhook_outbox (event_id, url, body, status, attempts, next_attempt_ms, created_ms, updated_ms)
         VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (event_id, url) WHERE redelivery_of IS NULL DO NOTHING`,
        eventId,
        url,
        body,
        nowMs,
        nowMs,
        nowMs,
      );
    }
  }

  /** Head-of-line pending rows (at most one per URL) whose next attempt is due, earliest first. */
  due(nowMs: number, limit: number): DueDelivery[] {
    return this.sql
      .exec(
        `SELECT seq, event_id, url, body, attempts, created_ms FROM webhook_outbox
         WHERE seq IN (${HEAD_SEQS}) AND next_attempt_ms <= ?
         ORDER BY next_attempt_ms, seq LIMIT ?`,
        nowMs,
        clampLimit(limit),
      )
      .toArray()
      .map(toDue);
  }

  /** The head-of-line pending row of one URL if it is due, else null. */
  dueForUrl(url: string, nowMs: number): DueDelivery | null {
    const row = this.sql
      .exec(
        `SELECT seq, event_id, url, body, attempts, created_ms, next_attempt_ms FROM webhook_outbox
         WHERE status = 'pending' AND url = ? ORDER BY seq LIMIT 1`,
        url,
      )
      .toArray()[0];
    if (!row || Number(row.next_attempt_ms) > nowMs) return null;
    return toDue(row);
  }

  /**
   * Starts an attempt: counts it and leases the row until leaseUntilMs, so a concurrent run skips
   * it and, if the object dies mid-request, it becomes due again then. Returns the attempt number
   * (1-based), or null if the row is no longer a due pending row.
   */
  claim(seq: number, leaseUntilMs: number, nowMs: number): number | null {
    const row = this.sql
      .exec(
        `UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_ms = ?, updated_ms = ?
         WHERE seq = ? AND status = 'pending' AND next_attempt_ms <= ? RETURNING attempts`,
        leaseUntilMs, nowMs, seq, nowMs,
      )
      .toArray()[0];
    return row ? Number(row.attempts) : null;
  }

  /**
   * The consumer accepted the event: settle the row and drop its body (§8). Matched by seq and event
   * id, so a delivery that completes after a purge (which restarts the seqs) never settles another
   * event's row. False when no row matched.
   */
  markDelivered(claim: DeliveryClaim, status: number, nowMs: number): boolean {
    const rows = this.sql.exec(
      `UPDATE webhook_outbox SET status = 'delivered', body = NULL, next_attempt_ms = NULL, last_status = ?,
         last_error = NULL, updated_ms = ?
       WHERE seq = ? AND event_id = ? AND status = 'pending' RETURNING seq`,
      status, nowMs, claim.seq, claim.eventId,
    );
    return rows.toArray().length > 0;
  }

  /**
   * The attempt failed and another is scheduled at nextAttemptMs. Only the claim's own attempt may
   * move the row: a late failure never overrides a newer claim's lease, nor another event's row.
   */
  markRetry(
    claim: DeliveryClaim, error: string | null, status: number | null, nextAttemptMs: number, nowMs: number,
  ): boolean {
    const rows = this.sql.exec(
      `UPDATE webhook_outbox SET next_attempt_ms = ?, last_error = ?, last_status = ?, updated_ms = ?
       WHERE seq = ? AND event_id = ? AND attempts = ? AND status = 'pending' RETURNING seq`,
      nextAttemptMs, truncate(error), status, nowMs, claim.seq, claim.eventId, claim.attempt,
    );
    return rows.toArray().length > 0;
  }

  /**
   * Gave up (410, or the schedule is exhausted). The row stays visible, and the URL's next event
   * becomes due. Matched like markDelivered.
   */
  markFailed(claim: DeliveryClaim, error: string | null, status: number | null, nowMs: number): boolean {
    const rows = this.sql.exec(
      `UPDATE webhook_outbox SET status = 'failed', next_attempt_ms = NULL, last_error = ?, last_status = ?,
         updated_ms = ? WHERE seq = ? AND event_id = ? AND status = 'pending' RETURNING seq`,
      truncate(error), status, nowMs, claim.seq, claim.eventId,
    );
    return rows.toArray().length > 0;
  }

  /**
   * The retry window: fails every pending row created at or before `closedBeforeMs` (now minus the
   * window) that is not in flight, all at once, keeping the last attempt's error after `reason`.
   * Rows behind a head were never attempted and are always due, so a dead consumer's whole backlog
   * fails together; a head in flight is left to its attempt (its lease makes it due again if the
   * object died). Returns the rows failed, oldest first.
   */
  expire(closedBeforeMs: number, reason: string, nowMs: number): ExpiredDelivery[] {
    return this.sql
      .exec(
        `UPDATE webhook_outbox
         SET status = 'failed', next_attempt_ms = NULL, updated_ms = ?,
             last_error = substr(
               ? || CASE WHEN last_error IS NULL THEN '' ELSE ' (last error: ' || last_error || ')' END, 1, ?)
         WHERE status = 'pending' AND created_ms <= ? AND next_attempt_ms <= ?
         RETURNING seq, event_id, url, attempts`,
        nowMs,
        reason,
        OUTBOX_ERROR_MAX_CHARS,
        closedBeforeMs,
        nowMs,
      )
      .toArray()
      .map((row) => ({
        seq: Number(row.seq), eventId: String(row.event_id), url: String(row.url), attempts: Number(row.attempts),
      }))
      .sort((a, b) => a.seq - b.seq);
  }

  /** One row by seq, or null. */
  get(seq: number): OutboxRow | null {
    const row = this.sql.exec("SELECT seq, event_id, url, status, body FROM webhook_outbox WHERE seq = ?", seq)
      .toArray()[0];
    if (!row) return null;
    const body = row.body === null || row.body === undefined ? null : String(row.body);
    const status = row.status as OutboxStatus;
    return { seq: Number(row.seq), eventId: String(row.event_id), url: String(row.url), status, body };
  }

  /** The pending row that sends this event to this URL, if any. */
  pendingFor(eventId: string, url: string): number | null {
    const pending =
      "SELECT seq FROM webhook_outbox WHERE status = 'pending' AND event_id = ? AND url = ? ORDER BY seq LIMIT 1";
    const row = this.sql.exec(pending, eventId, url).toArray()[0];
    return row ? Number(row.seq) : null;
  }

  /**
   * Queues `original` (a settled row) again as a new pending row: the same event id and body, behind
   * everything pending for its URL, with a fresh schedule and window. Returns the new seq.
   */
  enqueueRedelivery(original: OutboxRow, body: string, nowMs: number): number {
    const row = this.sql
      .exec(
        `INSERT INTO webhook_outbox
           (event_id, url, body, status, attempts, next_attempt_ms, created_ms, updated_ms, redelivery_of)
         VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?) RETURNING seq`,
        original.eventId, original.url, body, nowMs, nowMs, nowMs, original.seq,
      )
      .toArray()[0];
    return Number(row!.seq);
  }

  /**
   * Fails the pending rows of URLs no longer configured (or all of them when webhooks are off), so
   * they neither block retention nor wait for a consumer that will never be called. Returns how many.
   */
  abandonUrlsNotIn(urls: readonly string[], nowMs: number): number {
    const keep = [...new Set(urls)];
    const placeholders = keep.map(() => "?").join(", ");
    const rows = this.sql
      .exec(
        `UPDATE webhook_outbox
         SET status = 'failed', next_attempt_ms = NULL, last_error = 'url no longer configured', updated_ms = ?
         WHERE status = 'pending'${keep.length > 0 ? ` AND url NOT IN (${placeholders})` : ""} RETURNING seq`,
        nowMs,
        ...keep,
      )
      .toArray();
    return rows.length;
  }

  /** Earliest next attempt among head-of-line rows (the alarm deadline), or null if nothing is pending. */
  nextDueMs(): number | null {
    const row = this.sql
      .exec(`SELECT MIN(next_attempt_ms) AS at FROM webhook_outbox WHERE seq IN (${HEAD_SEQS})`)
      .toArray()[0];
    return numberOrNull(row?.at);
  }

  pendingCount(): number {
    const row = this.sql.exec("SELECT COUNT(*) AS n FROM webhook_outbox WHERE status = 'pending'").toArray()[0];
    return Number(row?.n ?? 0);
  }

  /** Rows per status, for a summary next to `list`. */
  statusCounts(): Record<OutboxStatus, number> {
    const counts: Record<OutboxStatus, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const row of this.sql.exec("SELECT status, COUNT(*) AS n FROM webhook_outbox GROUP BY status").toArray()) {
      counts[row.status as OutboxStatus] = Number(row.n);
    }
    return counts;
  }

  /** Rows oldest first, optionally of one status; page with afterSeq = the last seq returned. */
  list(options: OutboxListOptions): WebhookOutboxEntry[] {
    const afterSeq = Math.max(0, Math.floor(options.afterSeq ?? 0));
    const columns = `seq, event_id, url, status, attempts, next_attempt_ms, last_error, last_status, created_ms,
      updated_ms, redelivery_of`;
    const rows = options.status
      ? this.sql.exec(
          `SELECT ${columns} FROM webhook_outbox WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?`,
          options.status,
          afterSeq,
          clampLimit(options.limit),
        )
      : this.sql.exec(
          `SELECT ${columns} FROM webhook_outbox WHERE seq > ? ORDER BY seq LIMIT ?`,
          afterSeq,
          clampLimit(options.limit),
        );
    return rows.toArray().map((row) => ({
      seq: Number(row.seq),
      event_id: String(row.event_id),
      url: String(row.url),
      status: row.status as OutboxStatus,
      attempts: Number(row.attempts),
      next_attempt_ms: numberOrNull(row.next_attempt_ms),
      last_error: row.last_error === null || row.last_error === undefined ? null : String(row.last_error),
      last_status: numberOrNull(row.last_status),
      created_ms: Number(row.created_ms),
      updated_ms: Number(row.updated_ms),
      redelivery_of: numberOrNull(row.redelivery_of),
    }));
  }

  /** Deletes every row (session end, retention purge). */
  purgeAll(): void {
    this.sql.exec("DELETE FROM webhook_outbox");
  }
}

function toDue(row: Record<string, unknown>): DueDelivery {
  return {
    seq: Number(row.seq),
    eventId: String(row.event_id),
    url: String(row.url),
    body: String(row.body ?? ""),
    attempts: Number(row.attempts),
    createdMs: Number(row.created_ms),
  };
}
