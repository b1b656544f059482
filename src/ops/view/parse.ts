/**
 * The operations view reads the room API (docs/DESIGN.md §12, §13) and trusts none of it: every answer
 * and every watch-socket message goes through these parsers, which keep what they recognise and
 * report the rest. Pure: no DOM, no Workers imports (unit-tested in Node).
 */
import { isLevel, type Level } from "../../protocol/levels.js";

export interface RoomSummary {
  roomId: string;
  level: Level;
  connected: number;
  participants: number;
  alertsLastHour: number;
}

export interface TrackLevel {
  trackId: string;
  level: Level;
}

/** A participant's last event as the room reports it: a transition or a completed check. */
export interface LastEvent {
  type: string;
  level: Level | null;
  previousLevel: Level | null;
  trackId: string | null;
  atMs: number | null;
  reason: string | null;
  outcome: string | null;
  /** Checks only: the check's id and how many results it saw. */
  checkId: string | null;
  results: number;
}

export interface ParticipantEntry {
  participantId: string;
  level: Level;
  sinceMs: number | null;
  connected: boolean;
  tracks: TrackLevel[];
  lastEvent: LastEvent | null;
}

export interface RoomSnapshot {
  roomId: string;
  level: Level;
  participants: ParticipantEntry[];
}

export interface AlertEvent {
  type: "deepfake_alert";
  id: string;
  level: Level;
  previousLevel: Level;
  participantId: string;
  trackId: string;
  message: string;
  timestampMs: number;
  reason: string;
  simulated: boolean;
}

export interface CheckStarted {
  type: "check_started";
  checkId: string;
  participantId: string;
  untilMs: number;
}

export interface CheckCompleted {
  type: "check_completed";
  id: string;
  checkId: string;
  participantId: string;
  level: Level;
  outcome: string;
  results: number;
  tracks: TrackLevel[];
  startedMs: number | null;
  completedMs: number;
  simulated: boolean;
}

/** Everything the watch socket sends (§12), plus `unknown` for types this page does not know yet. */
export type WatchEvent =
  | ({ type: "room" } & RoomSnapshot)
  | { type: "participant_joined"; participantId: string }
  | { type: "participant_left"; participantId: string }
  | AlertEvent
  | CheckStarted
  | CheckCompleted
  | { type: "room_level"; level: Level; previousLevel: Level | null }
  | { type: "unknown"; name: string };

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const count = (v: unknown): number => {
  const n = num(v);
  return n !== null && n >= 0 ? Math.floor(n) : 0;
};
const level = (v: unknown): Level | null => (isLevel(v) ? v : null);

function tracksOf(v: unknown): TrackLevel[] {
  if (!Array.isArray(v)) return [];
  const out: TrackLevel[] = [];
  for (const t of v) {
    if (!isObject(t)) continue;
    const trackId = str(t.track_id);
    const l = level(t.level);
    if (trackId && l) out.push({ trackId, level: l });
  }
  return out;
}

function lastEventOf(v: unknown): LastEvent | null {
  if (!isObject(v)) return null;
  return {
    type: str(v.type) ?? "event",
    level: level(v.level),
    previousLevel: level(v.previous_level),
    trackId: str(v.track_id),
    atMs: num(v.timestamp_ms) ?? num(v.completed_ms) ?? num(v.at_ms),
    reason: str(v.reason),
    outcome: str(v.outcome),
    checkId: str(v.check_id),
    results: count(v.results),
  };
}

function participantOf(v: unknown): ParticipantEntry | null {
  if (!isObject(v)) return null;
  const participantId = str(v.participant_id);
  if (!participantId) return null;
  return {
    participantId,
    level: level(v.level) ?? "clear",
    sinceMs: num(v.since_ms),
    connected: v.connected === true,
    tracks: tracksOf(v.tracks),
    lastEvent: lastEventOf(v.last_event),
  };
}

/** `GET /v1/rooms/:room` and the watch socket's first message. */
export function parseRoomSnapshot(body: unknown): Parsed<RoomSnapshot> {
  if (!isObject(body)) return { ok: false, error: "the room is not a JSON object" };
  const roomId = str(body.room_id);
  if (!roomId) return { ok: false, error: "the room has no room_id" };
  const participants = Array.isArray(body.participants) ? body.participants.map(participantOf) : [];
  return {
    ok: true,
    value: {
      roomId,
      level: level(body.level) ?? "clear",
      participants: participants.filter((p): p is ParticipantEntry => p !== null),
    },
  };
}

/** `GET /v1/rooms`: `{"rooms": [...]}`. Entries without a room id are dropped. */
export function parseRoomList(body: unknown): Parsed<RoomSummary[]> {
  if (!isObject(body) || !Array.isArray(body.rooms)) return { ok: false, error: "the answer has no rooms list" };
  const rooms: RoomSummary[] = [];
  for (const r of body.rooms) {
    if (!isObject(r)) continue;
    const roomId = str(r.room_id);
    if (!roomId) continue;
    rooms.push({
      roomId,
      level: level(r.level) ?? "clear",
      connected: count(r.connected),
      participants: count(r.participants),
      alertsLastHour: count(r.alerts_last_hour),
    });
  }
  return { ok: true, value: rooms };
}

function alertOf(v: Json): Parsed<AlertEvent> {
  const id = str(v.id);
  const participantId = str(v.participant_id);
  const l = level(v.level);
  if (!id || !participantId || !l) return { ok: false, error: "deepfake_alert without id, participant_id or level" };
  return {
    ok: true,
    value: {
      type: "deepfake_alert",
      id,
      level: l,
      previousLevel: level(v.previous_level) ?? "clear",
      participantId,
      trackId: str(v.track_id) ?? "",
      message: typeof v.message === "string" ? v.message : "",
      timestampMs: num(v.timestamp_ms) ?? 0,
      reason: str(v.reason) ?? "result",
      simulated: v.simulated === true,
    },
  };
}

function checkCompletedOf(v: Json): Parsed<CheckCompleted> {
  const checkId = str(v.check_id);
  const participantId = str(v.participant_id);
  if (!checkId || !participantId) return { ok: false, error: "check_completed without check_id or participant_id" };
  return {
    ok: true,
    value: {
      type: "check_completed",
      id: str(v.id) ?? checkId,
      checkId,
      participantId,
      level: level(v.level) ?? "clear",
      outcome: str(v.outcome) ?? "answered",
      results: count(v.results),
      tracks: tracksOf(v.tracks),
      startedMs: num(v.started_ms),
      completedMs: num(v.completed_ms) ?? 0,
      simulated: v.simulated === true,
    },
  };
}

/** One watch-socket text message. Unknown types parse as `unknown` (newer servers may send more). */
export function parseWatchEvent(text: string): Parsed<WatchEvent> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, error: "a watch message is not JSON" };
  }
  if (!isObject(body) || typeof body.type !== "string") return { ok: false, error: "a watch message has no type" };
  const participantId = str(body.participant_id);
  switch (body.type) {
    case "room": {
      const room = parseRoomSnapshot(body);
      return room.ok ? { ok: true, value: { type: "room", ...room.value } } : room;
    }
    case "participant_joined":
    case "participant_left":
      if (!participantId) return { ok: false, error: `${body.type} without participant_id` };
      return { ok: true, value: { type: body.type, participantId } };
    case "deepfake_alert":
      return alertOf(body);
    case "check_started": {
      const checkId = str(body.check_id);
      const untilMs = num(body.until_ms);
      if (!checkId || !participantId || untilMs === null) {
        return { ok: false, error: "check_started without check_id, participant_id or until_ms" };
      }
      return { ok: true, value: { type: "check_started", checkId, participantId, untilMs } };
    }
    case "check_completed":
      return checkCompletedOf(body);
    case "room_level": {
      const l = level(body.level);
      if (!l) return { ok: false, error: "room_level without a level" };
      return { ok: true, value: { type: "room_level", level: l, previousLevel: level(body.previous_level) } };
    }
    default:
      return { ok: true, value: { type: "unknown", name: body.type } };
  }
}

/** `GET /v1/rooms/:room/events`: the page's events (transitions and completed checks) and the cursor. */
export interface EventsPage {
  events: Array<AlertEvent | CheckCompleted>;
  nextAfter: string | null;
}

export function parseEventsPage(body: unknown): Parsed<EventsPage> {
  if (!isObject(body) || !Array.isArray(body.events)) return { ok: false, error: "the answer has no events list" };
  const events: Array<AlertEvent | CheckCompleted> = [];
  for (const e of body.events) {
    if (!isObject(e)) continue;
    const parsed = e.type === "check_completed" ? checkCompletedOf(e) : e.type === "deepfake_alert" ? alertOf(e) : null;
    if (parsed?.ok) events.push(parsed.value);
  }
  return { ok: true, value: { events, nextAfter: str(body.next_after) } };
}
