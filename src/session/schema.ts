/**
 * The participant object's SQLite schema: one list of migrations, versioned in code. Each storage
 * module owns its DDL; this file only orders it. Never edit a shipped entry, append a new one.
 */
import type { SqlLike } from "../shared/sql.js";
import { OUTBOX_MIGRATION, OUTBOX_REDELIVERY_MIGRATION } from "../webhooks/outbox-schema.js";
import { ROOM_REPORTS_DDL } from "../rooms/room-reporter.js";
import { DEADLINES_DDL, ROOM_COLUMNS_DDL, STORE_TABLES_DDL, TRACKS_DDL } from "./store.js";
import { CHECKS_DDL } from "../checks/store.js";

/** Each entry upgrades the schema by one version. */
const MIGRATIONS: readonly string[] = [
  STORE_TABLES_DDL,
  OUTBOX_MIGRATION,
  DEADLINES_DDL,
  OUTBOX_REDELIVERY_MIGRATION,
  TRACKS_DDL,
  // Rooms (docs/DESIGN.md §12): the participant's room, on its row and on every history row; the room reports queue.
  `${ROOM_COLUMNS_DDL}\n${ROOM_REPORTS_DDL}`,
  CHECKS_DDL,
];

export class Schema {
  constructor(private readonly sql: SqlLike) {}

  /** True once a schema exists (a participant connected at some point and nothing purged it since). */
  exists(): boolean {
    return (
      this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0
    );
  }

  /** Applies pending migrations; returns the schema version. */
  migrate(): number {
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS _schema (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER " +
        "NOT NULL)",
    );
    const row = this.sql.exec("SELECT version FROM _schema WHERE singleton = 1").toArray()[0];
    let version = row ? Number(row.version) : 0;
    while (version < MIGRATIONS.length) {
      this.sql.exec(MIGRATIONS[version]!);
      version++;
      this.sql.exec(
        "INSERT INTO _schema (singleton, version) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET version = " +
          "excluded.version",
        version,
      );
    }
    return version;
  }
}
