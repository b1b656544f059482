/**
 * The participant object's SQLite storage: schema migrations versioned in code, the current level,
 * the transition history and counters. Never media. Takes the SqlStorage structurally so it can be
 * exercised outside the object.
 */
import { isLevel, type Level } from "../detection/state-machine.js";
import type { DeepfakeAlert } from "./events.js";

/** The part of Durable Object SqlStorage the store uses. */
export interface SqlLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/** Each entry upgrades the schema by one version; never edit a shipped entry, append a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE participant (
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
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
];

export interface ParticipantRow {
  participantId: string;
  level: Level;
  sinceMs: number;
}

export class SessionStore {
  constructor(private readonly sql: SqlLike) {}

  /** Applies pending migrations; returns the schema version. */
  migrate(): number {
    this.sql.exec("CREATE TABLE IF NOT EXISTS _schema (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL)");
    const row = this.sql.exec("SELECT version FROM _schema WHERE singleton = 1").toArray()[0];
    let version = row ? Number(row.version) : 0;
    while (version < MIGRATIONS.length) {
      this.sql.exec(MIGRATIONS[version]!);
      version++;
      this.sql.exec("INSERT INTO _schema (singleton, version) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET version = excluded.version", version);
    }
    return version;
  }

  loadParticipant(): ParticipantRow | null {
    const row = this.sql.exec("SELECT participant_id, level, since_ms FROM participant WHERE singleton = 1").toArray()[0];
    if (!row) return null;
    const level = isLevel(row.level) ? row.level : "clear";
    return { participantId: String(row.participant_id), level, sinceMs: Number(row.since_ms) };
  }

  /** Records the participant id on first contact (the level starts CLEAR). */
  ensureParticipant(participantId: string, nowMs: number): ParticipantRow {
    this.sql.exec(
      "INSERT INTO participant (singleton, participant_id, level, since_ms) VALUES (1, ?, 'clear', ?) ON CONFLICT (singleton) DO NOTHING",
      participantId,
      nowMs,
    );
    return this.loadParticipant()!;
  }

  /** Writes a transition: the new level and its history row. Call inside transactionSync. */
  recordTransition(alert: DeepfakeAlert): void {
    this.sql.exec("UPDATE participant SET level = ?, since_ms = ? WHERE singleton = 1", alert.level, alert.timestamp_ms);
    this.sql.exec(
      "INSERT INTO history (event_id, previous_level, level, track_id, message, timestamp_ms) VALUES (?, ?, ?, ?, ?, ?)",
      alert.id,
      alert.previous_level,
      alert.level,
      alert.track_id,
      alert.message,
      alert.timestamp_ms,
    );
  }

  loadCounters(): Record<string, number> {
    const counters: Record<string, number> = {};
    for (const row of this.sql.exec("SELECT name, value FROM counters").toArray()) counters[String(row.name)] = Number(row.value);
    return counters;
  }

  saveCounters(counters: Readonly<Record<string, number>>): void {
    for (const [name, value] of Object.entries(counters)) {
      this.sql.exec(
        "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        name,
        value,
      );
    }
  }
}
