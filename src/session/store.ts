/**
 * The participant object's SQLite storage: the current level, the transition history, counters and
 * durable deadlines (the schema and its migrations are in ./schema.ts). Never media. Takes the
 * SqlStorage structurally so it can be
 * exercised outside the object.
 */
import type { TrackState } from "../detection/state-machine.js";
import { isLevel, type Level } from "../protocol/levels.js";
import type { DeepfakeAlert } from "../protocol/events.js";
import type { SqlLike } from "../shared/sql.js";
import type { WebhookOutbox } from "../webhooks/outbox.js";

/** The store's own tables (the first schema version). */
export const STORE_TABLES_DDL = `CREATE TABLE participant (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     participant_id TEXT NOT NULL,
     level TEXT NOT NULL,
     since_ms INTEGER NOT NULL
   );
   CREATE TABLE history (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL UNIQUE,
     previous_level TEXT NOT NULL,
     level TEXT NOT NULL,
     track_id TEXT NOT NULL,
     message TEXT NOT NULL,
     timestamp_ms INTEGER NOT NULL
   );
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`;

/** Deadlines that must survive eviction (the retention purge); the alarm is armed to the earliest. */
export const DEADLINES_DDL = `CREATE TABLE deadlines (name TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);`;

/** Per-track levels and last activity (docs/DESIGN.md §4.2), and why each transition happened. */
export const TRACKS_DDL = `CREATE TABLE tracks (track_id TEXT PRIMARY KEY, level TEXT NOT NULL, ` +
  `last_activity_ms INTEGER NOT NULL);
   ALTER TABLE history ADD COLUMN reason TEXT NOT NULL DEFAULT 'result';
   ALTER TABLE history ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;`;

/** The participant's room (docs/DESIGN.md §12), with the session and on every history row. */
export const ROOM_COLUMNS_DDL = `ALTER TABLE participant ADD COLUMN room_id TEXT;
   ALTER TABLE history ADD COLUMN room_id TEXT;`;

/** What one committed change writes besides the participant row: tracks to upsert and to delete. */
export interface TrackChanges {
  upsert: TrackState[];
  remove: string[];
}

const HISTORY_COLUMNS = "event_id, previous_level, level, track_id, message, timestamp_ms, reason, simulated, room_id";

function toAlert(row: Record<string, unknown>, participantId: string): DeepfakeAlert {
  return {
    type: "deepfake_alert",
    id: String(row.event_id),
    level: isLevel(row.level) ? row.level : "clear",
    previous_level: isLevel(row.previous_level) ? row.previous_level : "clear",
    participant_id: participantId,
    room_id: typeof row.room_id === "string" ? row.room_id : null,
    track_id: String(row.track_id),
    message: String(row.message),
    timestamp_ms: Number(row.timestamp_ms),
    reason: row.reason === "track_expired" || row.reason === "track_closed" ? row.reason : "result",
    simulated: Number(row.simulated) === 1,
  };
}

export interface ParticipantRow {
  participantId: string;
  roomId: string | null;
  level: Level;
  sinceMs: number;
}

export class SessionStore {
  constructor(private readonly sql: SqlLike) {}

  loadParticipant(): ParticipantRow | null {
    const row = this.sql
      .exec("SELECT participant_id, room_id, level, since_ms FROM participant WHERE singleton = 1")
      .toArray()[0];
    if (!row) return null;
    const level = isLevel(row.level) ? row.level : "clear";
    const roomId = typeof row.room_id === "string" ? row.room_id : null;
    return { participantId: String(row.participant_id), roomId, level, sinceMs: Number(row.since_ms) };
  }

  /** Records the participant id on first contact (the level starts CLEAR). */
  ensureParticipant(participantId: string, nowMs: number): ParticipantRow {
    this.sql.exec(
      "INSERT INTO participant (singleton, participant_id, level, since_ms) VALUES (1, ?, 'clear', ?) ON CONFLICT " +
        "(singleton) DO NOTHING",
      participantId,
      nowMs,
    );
    return this.loadParticipant()!;
  }

  /** Moves the participant to a room (or out of any); later transitions carry it. */
  setRoom(roomId: string | null): void {
    this.sql.exec("UPDATE participant SET room_id = ? WHERE singleton = 1", roomId);
  }

  /** Writes a transition: the new level and its history row. Call inside transactionSync. */
  recordTransition(alert: DeepfakeAlert): void {
    this.sql.exec(
      "UPDATE participant SET level = ?, since_ms = ? WHERE singleton = 1",
      alert.level,
      alert.timestamp_ms,
    );
    this.sql.exec(
      "INSERT INTO history (event_id, previous_level, level, track_id, message, timestamp_ms, reason, simulated, " +
        "room_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      alert.id,
      alert.previous_level,
      alert.level,
      alert.track_id,
      alert.message,
      alert.timestamp_ms,
      alert.reason,
      alert.simulated ? 1 : 0,
      alert.room_id ?? null,
    );
  }

  /** Tracks with a level, as last committed. */
  loadTracks(): TrackState[] {
    return this.sql
      .exec("SELECT track_id, level, last_activity_ms FROM tracks ORDER BY track_id")
      .toArray()
      .filter((row) => isLevel(row.level))
      .map((row) => ({
        trackId: String(row.track_id),
        level: row.level as Level,
        lastActivityMs: Number(row.last_activity_ms),
      }));
  }

  /** Writes track changes. Call inside the same transactionSync as the transition they belong to. */
  saveTracks(changes: TrackChanges): void {
    for (const t of changes.upsert) {
      this.sql.exec(
        "INSERT INTO tracks (track_id, level, last_activity_ms) VALUES (?, ?, ?) ON CONFLICT (track_id) DO UPDATE " +
          "SET level = excluded.level, last_activity_ms = excluded.last_activity_ms",
        t.trackId,
        t.level,
        t.lastActivityMs,
      );
    }
    for (const trackId of changes.remove) this.sql.exec("DELETE FROM tracks WHERE track_id = ?", trackId);
  }

  /** Moves a stored track's last activity forward (throttled by the caller). */
  saveTrackActivity(trackId: string, lastActivityMs: number): void {
    this.sql.exec(
      "UPDATE tracks SET last_activity_ms = MAX(last_activity_ms, ?) WHERE track_id = ?",
      lastActivityMs,
      trackId,
    );
  }

  /** Transition history, oldest first, after the event with id `afterEventId` (exclusive). */
  listHistory(afterEventId: string | null, limit: number): DeepfakeAlert[] | null {
    let afterSeq = 0;
    if (afterEventId !== null) {
      const row = this.sql.exec("SELECT seq FROM history WHERE event_id = ?", afterEventId).toArray()[0];
      if (!row) return null;
      afterSeq = Number(row.seq);
    }
    const participantId = this.#participantId();
    return this.sql
      .exec(`SELECT ${HISTORY_COLUMNS} FROM history WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
      .toArray()
      .map((row) => toAlert(row, participantId));
  }

  /** One event of the history by id (the event_id index), or null. */
  historyEvent(eventId: string): DeepfakeAlert | null {
    const row = this.sql.exec(`SELECT ${HISTORY_COLUMNS} FROM history WHERE event_id = ?`, eventId).toArray()[0];
    return row ? toAlert(row, this.#participantId()) : null;
  }

  #participantId(): string {
    return this.loadParticipant()?.participantId ?? "";
  }

  historyCount(): number {
    return Number(this.sql.exec("SELECT COUNT(*) AS n FROM history").toArray()[0]?.n ?? 0);
  }

  getDeadline(name: string): number | null {
    const row = this.sql.exec("SELECT at_ms FROM deadlines WHERE name = ?", name).toArray()[0];
    return row ? Number(row.at_ms) : null;
  }

  setDeadline(name: string, atMs: number | null): void {
    if (atMs === null) this.sql.exec("DELETE FROM deadlines WHERE name = ?", name);
    else
      this.sql.exec(
        "INSERT INTO deadlines (name, at_ms) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at_ms = excluded.at_ms",
        name,
        atMs,
      );
  }

  loadCounters(): Record<string, number> {
    const counters: Record<string, number> = {};
    for (const row of this.sql.exec("SELECT name, value FROM counters").toArray())
      counters[String(row.name)] = Number(row.value);
    return counters;
  }

  /** Upserts the given counters in one statement. */
  saveCounters(counters: Readonly<Record<string, number>>): void {
    const entries = Object.entries(counters);
    if (entries.length === 0) return;
    this.sql.exec(
      `INSERT INTO counters (name, value) VALUES ${entries.map(() => "(?, ?)").join(", ")} ON CONFLICT (name) DO ` +
        `UPDATE SET value = excluded.value`,
      ...entries.flat(),
    );
  }
}

/**
 * One committed detection change (call inside transactionSync): the transition's level and history
 * row and one outbox row per webhook URL, and the track rows it changed.
 */
export function recordChange(
  store: SessionStore,
  outbox: WebhookOutbox,
  urls: readonly string[],
  alert: DeepfakeAlert | null,
  tracks: TrackChanges,
  nowMs: number,
): void {
  if (alert) {
    store.recordTransition(alert);
    outbox.enqueue(alert, urls, nowMs);
  }
  store.saveTracks(tracks);
}
