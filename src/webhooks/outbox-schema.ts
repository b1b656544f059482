/**
 * The webhook outbox's tables (./outbox.ts), as schema versions the participant object's migrations
 * apply in order (src/session/schema.ts). Rows hold the §7 JSON only, never media.
 */

/** Append to the store's MIGRATIONS list (one schema version). */
export const OUTBOX_MIGRATION = `CREATE TABLE webhook_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL,
     url TEXT NOT NULL,
     body TEXT,
     status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_ms INTEGER,
     last_error TEXT,
     last_status INTEGER,
     created_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL,
     UNIQUE (event_id, url)
   );
   CREATE INDEX webhook_outbox_head ON webhook_outbox (status, url, seq);
   CREATE INDEX webhook_outbox_status_seq ON webhook_outbox (status, seq);`;

/**
 * Redeliveries (docs/DESIGN.md §6): a new row for an event already sent, so (event, URL) is unique only
 * among the original rows. SQLite cannot drop a table constraint, so the table is rebuilt.
 */
export const OUTBOX_REDELIVERY_MIGRATION = `CREATE TABLE webhook_outbox_v2 (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL,
     url TEXT NOT NULL,
     body TEXT,
     status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_ms INTEGER,
     last_error TEXT,
     last_status INTEGER,
     created_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL,
     redelivery_of INTEGER
   );
   INSERT INTO webhook_outbox_v2 (seq, event_id, url, body, status, attempts, next_attempt_ms, last_error,
       last_status, created_ms, updated_ms)
     SELECT seq, event_id, url, body, status, attempts, next_attempt_ms, last_error, last_status, created_ms,
       updated_ms FROM webhook_outbox;
   DROP TABLE webhook_outbox;
   ALTER TABLE webhook_outbox_v2 RENAME TO webhook_outbox;
   CREATE UNIQUE INDEX webhook_outbox_original ON webhook_outbox (event_id, url) WHERE redelivery_of IS NULL;
   CREATE INDEX webhook_outbox_head ON webhook_outbox (status, url, seq);
   CREATE INDEX webhook_outbox_status_seq ON webhook_outbox (status, seq);`;
