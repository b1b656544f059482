/**
 * The directory of live rooms (docs/DESIGN.md §12), as pure logic: what each room last said about itself,
 * and the listing of `GET /v1/rooms`. A room tells the directory only when something listed changes
 * (its level, its counts, a new alert), never per transition; the alert count decays with time here,
 * from the alert times the room sent, so an hour passing needs no message. Pure.
 */
import { ROOM_ALERT_WINDOW_MS } from "../config/limits.js";
import { isLevel, levelRank, type Level } from "../protocol/levels.js";
import type { RoomListing } from "../protocol/rooms.js";

/** What a room tells the directory. */
export interface DirectoryUpdate {
  room_id: string;
  level: Level;
  connected: number;
  participants: number;
  /** Times of the room's transitions to ALERT within the last hour (newest first, capped). */
  alert_times_ms: number[];
  /** When the room computed this; an older update than the one stored is ignored. */
  updated_ms: number;
  /** The room was purged: it leaves the listing. */
  removed?: boolean;
}

/** Validates an update from a room (the RPC boundary); null when malformed. */
export function parseDirectoryUpdate(value: unknown): DirectoryUpdate | null {
  if (typeof value !== "object" || value === null) return null;
  const u = value as Record<string, unknown>;
  const count = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
  if (typeof u.room_id !== "string" || !isLevel(u.level) || !count(u.connected) || !count(u.participants)) return null;
  if (typeof u.updated_ms !== "number" || !Array.isArray(u.alert_times_ms)) return null;
  const alerts = u.alert_times_ms.filter((t): t is number => typeof t === "number" && Number.isFinite(t));
  return {
    room_id: u.room_id,
    level: u.level,
    connected: u.connected as number,
    participants: u.participants as number,
    alert_times_ms: alerts,
    updated_ms: u.updated_ms,
    ...(u.removed === true ? { removed: true } : {}),
  };
}

/** Alerts within the window before `nowMs`. */
export function alertsWithin(alertTimesMs: readonly number[], nowMs: number): number {
  return alertTimesMs.filter((t) => t > nowMs - ROOM_ALERT_WINDOW_MS).length;
}

/**
 * The listing, most urgent first: by level (alert first), then alerts in the last hour, then
 * connected participants, then room id. Rooms nobody is connected to are listed (connected: 0)
 * until their room object is purged; `staleBeforeMs` drops those the directory has not heard of
 * since (a room whose last word was lost).
 */
export function listRooms(
  entries: Iterable<DirectoryUpdate>,
  nowMs: number,
  staleBeforeMs: number,
  max: number,
): RoomListing[] {
  const rooms: RoomListing[] = [];
  for (const e of entries) {
    if (e.connected === 0 && e.updated_ms < staleBeforeMs) continue;
    const alerts = alertsWithin(e.alert_times_ms, nowMs);
    const { room_id, level, connected, participants } = e;
    rooms.push({ room_id, level, connected, participants, alerts_last_hour: alerts });
  }
  rooms.sort(
    (a, b) =>
      levelRank(b.level) - levelRank(a.level) ||
      b.alerts_last_hour - a.alerts_last_hour ||
      b.connected - a.connected ||
      (a.room_id < b.room_id ? -1 : a.room_id > b.room_id ? 1 : 0),
  );
  return rooms.slice(0, max);
}
