/**
 * RoomDirectory: one Durable Object (named "directory") listing the deployment's live rooms
 * (docs/DESIGN.md §12). Rooms tell it only room-level changes; it keeps one row per room. A shell over
 * ./directory.ts.
 */
import { DurableObject } from "cloudflare:workers";
import { DIRECTORY_MAX_ROOMS } from "../config/limits.js";
import { parseConfig, type ConfigVars } from "../config/config.js";
import type { RoomListing } from "../protocol/rooms.js";
import { errorMessage, log } from "../shared/log.js";
import { jsonColumn } from "../shared/sql.js";
import { listRooms, parseDirectoryUpdate, type DirectoryUpdate } from "./directory.js";

export const DIRECTORY_NAME = "directory";

export class RoomDirectory extends DurableObject<ConfigVars> {
  readonly #retentionMs: number;
  readonly #rooms = new Map<string, DirectoryUpdate>();
  #rowsWritten = 0;
  #updates = 0;

  constructor(ctx: DurableObjectState, env: ConfigVars) {
    super(ctx, env);
    this.#retentionMs = parseConfig(env).retentionMs;
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS rooms (room_id TEXT PRIMARY KEY, updated_ms INTEGER NOT NULL, body TEXT NOT NULL)",
    );
    for (const row of ctx.storage.sql.exec("SELECT body FROM rooms").toArray()) {
      const update = parseDirectoryUpdate(jsonColumn<unknown>(row.body, null));
      if (update) this.#rooms.set(update.room_id, update);
    }
  }

  /** A room's listing changed (or it was purged). Older news than what is stored is ignored. */
  async update(value: DirectoryUpdate): Promise<{ applied: boolean }> {
    this.#updates++;
    const update = parseDirectoryUpdate(value);
    if (!update) return { applied: false };
    const known = this.#rooms.get(update.room_id);
    if (known && known.updated_ms > update.updated_ms) return { applied: false };
    try {
      const sql = this.ctx.storage.sql;
      const cursor = update.removed
        ? sql.exec("DELETE FROM rooms WHERE room_id = ?", update.room_id)
        : sql.exec(
            `INSERT INTO rooms (room_id, updated_ms, body) VALUES (?, ?, ?)
             ON CONFLICT (room_id) DO UPDATE SET updated_ms = excluded.updated_ms, body = excluded.body`,
            update.room_id, update.updated_ms, JSON.stringify(update),
          );
      this.#rowsWritten += cursor.rowsWritten;
    } catch (err) {
      const fields = { class: "RoomDirectory", room: update.room_id, reason: errorMessage(err) };
      log("error", "directory update failed", fields);
      throw err;
    }
    if (update.removed) this.#rooms.delete(update.room_id);
    else this.#rooms.set(update.room_id, update);
    return { applied: true };
  }

  async list(): Promise<{ rooms: RoomListing[] }> {
    const now = Date.now();
    return { rooms: listRooms(this.#rooms.values(), now, now - this.#retentionMs, DIRECTORY_MAX_ROOMS) };
  }

  /** What the directory has cost since it started: updates received and storage rows written. */
  async costs(): Promise<{ updates: number; rows_written: number; rooms: number }> {
    return { updates: this.#updates, rows_written: this.#rowsWritten, rooms: this.#rooms.size };
  }
}
