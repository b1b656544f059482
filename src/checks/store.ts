/**
 * On-demand checks in the participant object's SQLite (docs/DESIGN.md §13): the running check (so its
 * window ends on the alarm even after an eviction, with the results it had seen) and every completed
 * check with its `check_completed` event, written in the same transaction as its webhook outbox
 * rows. Never media. Parameterised SQL through the structural SqlLike.
 */
import { isLevel } from "../protocol/levels.js";
import { jsonColumn, type SqlLike } from "../shared/sql.js";
import type { CheckRecord } from "./window.js";

/** Append to the object's MIGRATIONS list (one schema version). */
export const CHECKS_DDL = `CREATE TABLE checks (
     check_id TEXT PRIMARY KEY,
     started_ms INTEGER NOT NULL,
     until_ms INTEGER NOT NULL,
     results INTEGER NOT NULL DEFAULT 0,
     tracks TEXT NOT NULL DEFAULT '[]',
     sent TEXT NOT NULL DEFAULT '[]',
     event_id TEXT UNIQUE,
     event TEXT
   );
   CREATE INDEX checks_started ON checks (started_ms);`;

/** What the checks capability keeps durably (structural, so it tests in Node with a Map). */
export interface CheckLedger {
  /** The check still running (no completion written), or null. */
  running(): CheckRecord | null;
  /** Writes a new running check. */
  open(record: CheckRecord): void;
  /** Saves the running check's results and tracks so far. */
  progress(record: CheckRecord): void;
  /** Marks the check completed with its event (call inside the transaction that queues its webhooks). */
  complete(checkId: string, eventId: string, eventJson: string): void;
  /** Start times of the checks started after `sinceMs`, oldest first (for the rate limit). */
  startedAfter(sinceMs: number): number[];
  /** A completed check's event JSON by event id (webhook redelivery after its body was dropped). */
  eventJson(eventId: string): string | null;
}

export class CheckStore implements CheckLedger {
  constructor(private readonly sql: SqlLike) {}

  running(): CheckRecord | null {
    const row = this.sql
      .exec(
        "SELECT check_id, started_ms, until_ms, results, tracks, sent FROM checks WHERE event_id IS NULL ORDER BY " +
          "started_ms DESC LIMIT 1",
      )
      .toArray()[0];
    if (!row) return null;
    return {
      checkId: String(row.check_id),
      startedMs: Number(row.started_ms),
      untilMs: Number(row.until_ms),
      results: Number(row.results),
      tracks: parseTracks(row.tracks),
      sent: parseStrings(row.sent),
    };
  }

  open(record: CheckRecord): void {
    this.sql.exec(
      "INSERT INTO checks (check_id, started_ms, until_ms, results, tracks, sent) VALUES (?, ?, ?, ?, ?, ?)",
      record.checkId,
      record.startedMs,
      record.untilMs,
      record.results,
      JSON.stringify(record.tracks),
      JSON.stringify(record.sent),
    );
  }

  progress(record: CheckRecord): void {
    this.sql.exec(
      "UPDATE checks SET results = ?, tracks = ?, sent = ? WHERE check_id = ? AND event_id IS NULL",
      record.results,
      JSON.stringify(record.tracks),
      JSON.stringify(record.sent),
      record.checkId,
    );
  }

  complete(checkId: string, eventId: string, eventJson: string): void {
    this.sql.exec("UPDATE checks SET event_id = ?, event = ? WHERE check_id = ?", eventId, eventJson, checkId);
  }

  startedAfter(sinceMs: number): number[] {
    return this.sql
      .exec("SELECT started_ms FROM checks WHERE started_ms > ? ORDER BY started_ms", sinceMs)
      .toArray()
      .map((row) => Number(row.started_ms));
  }

  eventJson(eventId: string): string | null {
    const row = this.sql.exec("SELECT event FROM checks WHERE event_id = ?", eventId).toArray()[0];
    return row && typeof row.event === "string" ? row.event : null;
  }
}


function parseTracks(text: unknown): CheckRecord["tracks"] {
  const value = jsonColumn<unknown>(text, null);
  if (!Array.isArray(value)) return [];
  return value.flatMap((t: unknown) => {
    const { trackId, level } = (t ?? {}) as { trackId?: unknown; level?: unknown };
    return typeof trackId === "string" && isLevel(level) ? [{ trackId, level }] : [];
  });
}

function parseStrings(text: unknown): string[] {
  const value = jsonColumn<unknown>(text, null);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
