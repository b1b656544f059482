/**
 * A room object's SQLite storage (docs/DESIGN.md §12): the room's id and deadlines, one row per listed
 * participant, and the room's event log (deepfake_alert and check_completed, with the ids the
 * participants' clients saw). Never media. Counts the rows it writes, for the cost figures.
 */
import { isLevel, type Level } from "../protocol/levels.js";
import type { ParticipantEvent, RoomTrack } from "../protocol/rooms.js";
import { jsonColumn } from "../shared/sql.js";
import type { ParticipantRecord } from "./room-state.js";

/** SqlStorage as this module uses it (structural; `rowsWritten` is the runtime cursor's). */
export interface RoomSql {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[]; readonly rowsWritten?: number };
}

const DDL = [
  `CREATE TABLE IF NOT EXISTS room_meta (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), room_id TEXT NOT NULL,
     purge_at_ms INTEGER)`,
  `CREATE TABLE IF NOT EXISTS room_participants (participant_id TEXT PRIMARY KEY, session TEXT NOT NULL,
     seq INTEGER NOT NULL, level TEXT NOT NULL, since_ms INTEGER NOT NULL, connected INTEGER NOT NULL,
     tracks TEXT NOT NULL, last_event TEXT)`,
  `CREATE TABLE IF NOT EXISTS room_events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL, participant_id TEXT NOT NULL, level TEXT NOT NULL, at_ms INTEGER NOT NULL,
     body TEXT NOT NULL)`,
];

export class RoomStore {
  /** Rows written since the object started (INSERT, UPDATE and DELETE rows, as SQLite counts them). */
  rowsWritten = 0;

  constructor(private readonly sql: RoomSql) {}

  #exec(query: string, ...bindings: unknown[]): Record<string, unknown>[] {
    const cursor = this.sql.exec(query, ...bindings);
    const rows = cursor.toArray();
    this.rowsWritten += cursor.rowsWritten ?? 0;
    return rows;
  }

  /** True once the room has been told anything (its tables exist). */
  exists(): boolean {
    return this.#exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'room_meta'").length > 0;
  }

  /** Creates the tables and records the room's id (an alarm-woken object may not know its name). */
  init(roomId: string): void {
    for (const ddl of DDL) this.#exec(ddl);
    this.#exec("INSERT INTO room_meta (singleton, room_id) VALUES (1, ?) ON CONFLICT (singleton) DO NOTHING", roomId);
  }

  roomId(): string | null {
    const row = this.#exec("SELECT room_id FROM room_meta WHERE singleton = 1")[0];
    return row ? String(row.room_id) : null;
  }

  loadParticipants(): ParticipantRecord[] {
    return this.#exec("SELECT * FROM room_participants").map((row) => ({
      participant_id: String(row.participant_id),
      session: String(row.session),
      seq: Number(row.seq),
      level: isLevel(row.level) ? row.level : "clear",
      since_ms: Number(row.since_ms),
      connected: Number(row.connected) === 1,
      tracks: jsonColumn<RoomTrack[]>(row.tracks, []),
      last_event: jsonColumn<ParticipantEvent | null>(row.last_event, null),
    }));
  }

  saveParticipant(p: ParticipantRecord): void {
    this.#exec(
      `INSERT INTO room_participants (participant_id, session, seq, level, since_ms, connected, tracks, last_event)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (participant_id) DO UPDATE SET session = excluded.session,
       seq = excluded.seq, level = excluded.level, since_ms = excluded.since_ms, connected = excluded.connected,
       tracks = excluded.tracks, last_event = excluded.last_event`,
      p.participant_id, p.session, p.seq, p.level, p.since_ms, p.connected ? 1 : 0, JSON.stringify(p.tracks),
      p.last_event === null ? null : JSON.stringify(p.last_event),
    );
  }

  deleteParticipant(participantId: string): void {
    this.#exec("DELETE FROM room_participants WHERE participant_id = ?", participantId);
  }

  /** Appends an event to the log (a retried event with a known id is written once). */
  logEvent(event: ParticipantEvent, nowMs: number): void {
    const fields = event as unknown as Record<string, unknown>;
    const id = typeof fields.id === "string" ? fields.id : null;
    if (id === null) return;
    const level: Level = isLevel(fields.level) ? fields.level : "clear";
    const time = fields.timestamp_ms ?? fields.completed_ms;
    const at = typeof time === "number" ? time : nowMs;
    this.#exec(
      `INSERT INTO room_events (event_id, type, participant_id, level, at_ms, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (event_id) DO NOTHING`,
      id, event.type, event.participant_id, level, at, JSON.stringify(event),
    );
  }

  /** The log, oldest first, after the event `afterEventId` (exclusive); null for an unknown id. */
  listEvents(afterEventId: string | null, limit: number): ParticipantEvent[] | null {
    let afterSeq = 0;
    if (afterEventId !== null) {
      const row = this.#exec("SELECT seq FROM room_events WHERE event_id = ?", afterEventId)[0];
      if (!row) return null;
      afterSeq = Number(row.seq);
    }
    const rows = this.#exec("SELECT body FROM room_events WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit);
    return rows.map((row) => jsonColumn<ParticipantEvent>(row.body, {} as ParticipantEvent));
  }

  /** Times of the transitions to ALERT since `sinceMs`, newest first, at most `limit`. */
  recentAlerts(sinceMs: number, limit: number): number[] {
    return this.#exec(
      `SELECT at_ms FROM room_events WHERE type = 'deepfake_alert' AND level = 'alert' AND at_ms > ?
       ORDER BY at_ms DESC LIMIT ?`,
      sinceMs, limit,
    ).map((row) => Number(row.at_ms));
  }

  purgeAt(): number | null {
    const row = this.#exec("SELECT purge_at_ms FROM room_meta WHERE singleton = 1")[0];
    return row && row.purge_at_ms !== null ? Number(row.purge_at_ms) : null;
  }

  setPurgeAt(atMs: number | null): void {
    this.#exec("UPDATE room_meta SET purge_at_ms = ? WHERE singleton = 1", atMs);
  }
}
