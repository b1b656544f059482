/**
 * What a room knows (docs/DESIGN.md §12), and what each participant's report changes. Pure: the room
 * object (./room-object.ts) stores and broadcasts what `apply` returns.
 *
 * A report carries the participant's whole state after its own commit (level, since, tracks,
 * connected) and, for a transition or a check, the event its clients saw. The room derives
 * `participant_joined` / `participant_left` from `connected` flipping, so a report sent twice, or a
 * fresh report after the participant's object restarted, announces nothing twice. Reports of one
 * participant are numbered within its session: a retried report the room already applied is
 * skipped; a new session (the participant's storage was purged and it came back) starts afresh.
 */
import { isLevel, levelRank, type Level } from "../protocol/levels.js";
import type {
  ParticipantEvent, RoomListing, RoomParticipant, RoomSnapshot, RoomTrack, WatchEvent,
} from "../protocol/rooms.js";

/** A participant's state as its object committed it. */
export interface ReportedState {
  level: Level;
  since_ms: number;
  connected: boolean;
  tracks: RoomTrack[];
}

/** One update from a participant object to its room. */
export interface RoomReport {
  participant_id: string;
  room_id: string;
  /** The participant's session (new after its storage was purged), and the report's number in it. */
  session: string;
  seq: number;
  at_ms: number;
  state: ReportedState;
  event?: ParticipantEvent;
  /** The participant's session was deleted: it leaves the room's listing. */
  removed?: boolean;
}

/** A listed participant, with the report it was last updated by. */
export interface ParticipantRecord extends RoomParticipant {
  session: string;
  seq: number;
}

/** What one applied report changes. */
export interface Applied {
  /** False for a report already applied (a retry): nothing changes. */
  accepted: boolean;
  /** Watch-socket messages, in order. */
  watch: WatchEvent[];
  /** The participant's row to write (null: delete it). */
  record: ParticipantRecord | null;
  /** An event for the room's event log (deepfake_alert and check_completed). */
  logged: ParticipantEvent | null;
  /** The room's level moved. */
  level: { previous: Level; level: Level } | null;
  /** Something the directory lists changed (level, counts, a new alert). */
  listingChanged: boolean;
}

const SKIPPED: Applied = { accepted: false, watch: [], record: null, logged: null, level: null, listingChanged: false };

/** The most severe level of the connected participants; clear when none is connected. */
export function roomLevel(participants: Iterable<Pick<RoomParticipant, "level" | "connected">>): Level {
  let level: Level = "clear";
  for (const p of participants) if (p.connected && levelRank(p.level) > levelRank(level)) level = p.level;
  return level;
}

export class RoomState {
  readonly #participants = new Map<string, ParticipantRecord>();
  #level: Level = "clear";

  constructor(
    readonly roomId: string,
    records: Iterable<ParticipantRecord> = [],
  ) {
    for (const record of records) this.#participants.set(record.participant_id, record);
    this.#level = roomLevel(this.#participants.values());
  }

  get level(): Level {
    return this.#level;
  }

  get connected(): number {
    let n = 0;
    for (const p of this.#participants.values()) if (p.connected) n++;
    return n;
  }

  get size(): number {
    return this.#participants.size;
  }

  snapshot(): RoomSnapshot {
    const participants = [...this.#participants.values()]
      .sort((a, b) => (a.participant_id < b.participant_id ? -1 : a.participant_id > b.participant_id ? 1 : 0))
      .map(({ session: _s, seq: _q, ...p }) => ({ ...p, tracks: p.tracks.map((t) => ({ ...t })) }));
    return { room_id: this.roomId, level: this.#level, participants };
  }

  listing(alertsLastHour: number): RoomListing {
    const { roomId: room_id, connected, size: participants } = this;
    return { room_id, level: this.#level, connected, participants, alerts_last_hour: alertsLastHour };
  }

  /** Applies one report; the caller stores the record and the logged event, then sends `watch`. */
  apply(report: RoomReport): Applied {
    const id = report.participant_id;
    const before = this.#participants.get(id);
    if (before && before.session === report.session && report.seq <= before.seq) return SKIPPED;
    const wasConnected = before?.connected ?? false;
    const watch: WatchEvent[] = [];
    const room = this.roomId;
    let record: ParticipantRecord | null = null;
    if (report.removed) {
      this.#participants.delete(id);
      if (!before) return { ...SKIPPED, accepted: true };
      if (wasConnected) watch.push({ type: "participant_left", room_id: room, participant_id: id });
    } else {
      const { state, event } = report;
      const connected = state.connected;
      record = {
        participant_id: id,
        level: state.level,
        since_ms: state.since_ms,
        connected,
        tracks: state.tracks.map((t) => ({ track_id: t.track_id, level: t.level })),
        last_event: event ?? before?.last_event ?? null,
        session: report.session,
        seq: report.seq,
      };
      this.#participants.set(id, record);
      if (connected && !wasConnected) watch.push({ type: "participant_joined", room_id: room, participant_id: id });
      if (event) watch.push(event);
      if (!connected && wasConnected) watch.push({ type: "participant_left", room_id: room, participant_id: id });
    }
    const previous = this.#level;
    this.#level = roomLevel(this.#participants.values());
    const level = previous === this.#level ? null : { previous, level: this.#level };
    if (level) watch.push({ type: "room_level", room_id: room, level: level.level, previous_level: level.previous });
    const event = report.removed ? undefined : report.event;
    const logged = event && (event.type === "deepfake_alert" || event.type === "check_completed") ? event : null;
    const newAlert = event?.type === "deepfake_alert" && event.level === "alert";
    const connectionChanged = wasConnected !== (record?.connected ?? false);
    const listingChanged = level !== null || newAlert || connectionChanged || !before || record === null;
    return { accepted: true, watch, record, logged, level, listingChanged };
  }

  /** A participant the room believed connected has no socket open (its object said so). */
  disconnect(participantId: string): Applied {
    const before = this.#participants.get(participantId);
    if (!before?.connected) return SKIPPED;
    const record = { ...before, connected: false };
    this.#participants.set(participantId, record);
    const watch: WatchEvent[] = [{ type: "participant_left", room_id: this.roomId, participant_id: participantId }];
    const previous = this.#level;
    this.#level = roomLevel(this.#participants.values());
    const level = previous === this.#level ? null : { previous, level: this.#level };
    if (level) {
      watch.push({ type: "room_level", room_id: this.roomId, level: level.level, previous_level: level.previous });
    }
    return { accepted: true, watch, record, logged: null, level, listingChanged: true };
  }

  /** Participants the room believes connected. */
  connectedIds(): string[] {
    return [...this.#participants.values()].filter((p) => p.connected).map((p) => p.participant_id);
  }

  /** Drops every participant (the room is purged). */
  clear(): void {
    this.#participants.clear();
    this.#level = "clear";
  }
}

/** Validates a report at the room's RPC boundary; null when malformed. */
export function parseRoomReport(value: unknown): RoomReport | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const s = r.state as Record<string, unknown> | undefined;
  const text = (v: unknown): v is string => typeof v === "string";
  if (!text(r.participant_id) || !text(r.room_id) || !text(r.session)) return null;
  if (typeof r.seq !== "number" || typeof r.at_ms !== "number" || typeof s !== "object" || s === null) return null;
  if (!isLevel(s.level) || typeof s.since_ms !== "number") return null;
  if (typeof s.connected !== "boolean" || !Array.isArray(s.tracks)) return null;
  const tracks = s.tracks.filter(
    (t): t is RoomTrack => typeof t === "object" && t !== null && typeof t.track_id === "string" && isLevel(t.level),
  );
  const event = r.event as ParticipantEvent | undefined;
  const eventOk =
    event === undefined || (typeof event === "object" && event !== null && typeof event.type === "string");
  if (!eventOk) return null;
  return {
    participant_id: r.participant_id,
    room_id: r.room_id,
    session: r.session,
    seq: r.seq,
    at_ms: r.at_ms,
    state: { level: s.level, since_ms: s.since_ms, connected: s.connected, tracks },
    ...(event !== undefined ? { event } : {}),
    ...(r.removed === true ? { removed: true } : {}),
  };
}
