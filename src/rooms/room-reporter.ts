/**
 * Room reporting, a capability of the participant object (docs/DESIGN.md §12): after each of the
 * participant's own commits (a socket joined or left, a transition, a check), `report()` writes one
 * row with the participant's committed state and the event its clients saw, and returns. A
 * background sender (./retry-sender.ts) takes the stored rows to the room object in order, a batch
 * per RPC, one RPC at a time, and retries from the object's alarm until the room has them. A slow,
 * failing or throwing room therefore never delays the participant's own events or webhooks, and a
 * restart loses nothing. Pure: storage, the state and the room are injected.
 */
import {
  ROOM_REPORT_BATCH, ROOM_REPORT_MAX_PENDING, ROOM_REPORT_TIMEOUT_MS, ROOM_RETRY_INITIAL_MS, ROOM_RETRY_MAX_MS,
} from "../config/limits.js";
import type { Level } from "../protocol/levels.js";
import type { ParticipantEvent, RoomTrack } from "../protocol/rooms.js";
import { errorMessage, log } from "../shared/log.js";
import type { SqlLike } from "../shared/sql.js";
import type { Capability, DepartedSocket } from "../session/capability.js";
import type { RoomsNamespace } from "./membership.js";
import { RetrySender, withTimeout } from "./retry-sender.js";
import type { RoomReport } from "./room-state.js";

/** The reporter's tables (a migration of the participant object's schema). */
export const ROOM_REPORTS_DDL = `CREATE TABLE room_reports (seq INTEGER PRIMARY KEY AUTOINCREMENT,
     room_id TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE room_session (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), session TEXT NOT NULL);`;

/** The participant as committed: what its room is told. */
export interface ReportedParticipant {
  participantId: string;
  roomId: string | null;
  level: Level;
  sinceMs: number;
  tracks: RoomTrack[];
}

export interface RoomReporterHost {
  sql: SqlLike;
  /** The participant's committed state, or null without a session (or before its schema exists). */
  participant(): ReportedParticipant | null;
  /** True while any socket of the participant is open. */
  connected(): boolean;
  /** One RPC to the room object. */
  send(roomId: string, batch: RoomReport[]): Promise<unknown>;
  /** The retry deadline moved: re-arm the object's alarm. */
  rearm(): void;
  now?(): number;
}

export class RoomReporter implements Capability {
  readonly name = "rooms";
  readonly #sender: RetrySender;
  #session: string | null = null;
  /** Whether the room was last told the participant is connected (null: not told since this start). */
  #toldConnected: boolean | null = null;
  /** The state the room was last told (level, since, tracks, connection), to skip telling it again. */
  #toldState: string | null = null;
  #stateCheckQueued = false;

  constructor(private readonly host: RoomReporterHost) {
    this.#sender = new RetrySender({
      send: () => this.#sendBatch(),
      pending: () => this.#pending(),
      timeoutMs: ROOM_REPORT_TIMEOUT_MS,
      initialMs: ROOM_RETRY_INITIAL_MS,
      maxMs: ROOM_RETRY_MAX_MS,
      rearm: () => host.rearm(),
      failed: (reason, failures) =>
        log("warn", "room update failed; will retry", {
          participant: host.participant()?.participantId,
          reason,
          failures,
        }),
      now: () => this.#now(),
    });
  }

  /**
   * The participant committed something its room should know: an event its clients saw (a
   * deepfake_alert, check_started, check_completed), or only a change of state. Call after the
   * commit; returns at once and never throws.
   */
  report(event?: ParticipantEvent, connected: boolean = this.host.connected()): void {
    try {
      const p = this.host.participant();
      if (!p || p.roomId === null) return;
      const body: Omit<RoomReport, "seq"> = {
        participant_id: p.participantId,
        room_id: p.roomId,
        session: this.#sessionId(),
        at_ms: this.#now(),
        state: { level: p.level, since_ms: p.sinceMs, connected, tracks: p.tracks },
        ...(event ? { event } : {}),
      };
      const { sql } = this.host;
      sql.exec("INSERT INTO room_reports (room_id, body) VALUES (?, ?)", p.roomId, JSON.stringify(body));
      // A room that has not answered for long: keep the newest updates only (each carries the whole state).
      if (this.#sender.failures > 0) {
        const trim = "DELETE FROM room_reports WHERE seq <= (SELECT MAX(seq) FROM room_reports) - ?";
        sql.exec(trim, ROOM_REPORT_MAX_PENDING);
      }
      this.#toldConnected = connected;
      this.#toldState = JSON.stringify(body.state);
      this.#sender.kick();
    } catch (err) {
      const participant = this.host.participant()?.participantId;
      log("error", "queuing a room update failed", { participant, reason: errorMessage(err) });
    }
  }

  /**
   * The participant's committed state changed without an event (a track's level moved, a track
   * stopped counting): the room is told once the current turn is over, so that a transition's own
   * report goes first, and only if what it was last told is stale.
   */
  stateChanged(): void {
    if (this.#stateCheckQueued) return;
    this.#stateCheckQueued = true;
    queueMicrotask(() => {
      this.#stateCheckQueued = false;
      const p = this.host.participant();
      if (!p || p.roomId === null) return;
      const state = { level: p.level, since_ms: p.sinceMs, connected: this.host.connected(), tracks: p.tracks };
      if (JSON.stringify(state) !== this.#toldState) this.report();
    });
  }

  // ---- the capability interface ----------------------------------------------------------------

  nextDeadline(nowMs: number): number | null {
    return this.#sender.nextDeadline(nowMs);
  }

  onDeadline(): Promise<void> {
    return this.#sender.onDeadline();
  }

  onStart(): void {
    this.#toldConnected = null;
    if (this.#pending()) this.#sender.kick();
  }

  onSocketJoined(): void {
    if (this.#toldConnected !== true) this.report(undefined, true);
  }

  onSocketGone(socket: DepartedSocket): void {
    if (socket.remaining === 0) this.report(undefined, false);
  }

  /** The session is purged: the room drops the participant (best effort: its rows go with the storage). */
  async onPurge(): Promise<void> {
    const p = this.host.participant();
    const session = this.#session;
    this.#session = null;
    this.#toldConnected = null;
    this.#toldState = null;
    this.#sender.reset();
    if (!p || p.roomId === null || session === null) return;
    const removal: RoomReport = {
      participant_id: p.participantId, room_id: p.roomId, session, seq: Number.MAX_SAFE_INTEGER, at_ms: this.#now(),
      state: { level: p.level, since_ms: p.sinceMs, connected: false, tracks: [] }, removed: true,
    };
    const sent = withTimeout(Promise.resolve(this.host.send(p.roomId, [removal])), ROOM_REPORT_TIMEOUT_MS);
    await sent.catch((err: unknown) => {
      const fields = { participant: p.participantId, reason: errorMessage(err) };
      log("warn", "telling the room a participant was deleted failed", fields);
    });
  }

  /** Resolves once the send now running (if any) settled (tests). */
  settled(): Promise<void> {
    return this.#sender.settled();
  }

  // ---- internals ----------------------------------------------------------------------------------

  #now(): number {
    return this.host.now?.() ?? Date.now();
  }

  #sessionId(): string {
    if (this.#session !== null) return this.#session;
    const { sql } = this.host;
    const row = sql.exec("SELECT session FROM room_session WHERE singleton = 1").toArray()[0];
    if (row) return (this.#session = String(row.session));
    const session = crypto.randomUUID();
    sql.exec("INSERT INTO room_session (singleton, session) VALUES (1, ?)", session);
    return (this.#session = session);
  }

  #pending(): boolean {
    try {
      if (this.host.participant() === null) return false;
      return this.host.sql.exec("SELECT seq FROM room_reports LIMIT 1").toArray().length > 0;
    } catch {
      return false; // no schema (yet, or purged)
    }
  }

  /** Sends the oldest stored reports of one room; resolves true when more are stored. */
  async #sendBatch(): Promise<boolean> {
    const { sql } = this.host;
    const oldest = "SELECT seq, room_id, body FROM room_reports ORDER BY seq LIMIT ?";
    const rows = sql.exec(oldest, ROOM_REPORT_BATCH).toArray();
    const first = rows[0];
    if (!first) return false;
    const roomId = String(first.room_id);
    const batch: RoomReport[] = [];
    for (const row of rows) {
      if (String(row.room_id) !== roomId) break;
      batch.push({ ...(JSON.parse(String(row.body)) as Omit<RoomReport, "seq">), seq: Number(row.seq) });
    }
    await this.host.send(roomId, batch);
    sql.exec("DELETE FROM room_reports WHERE seq <= ?", batch[batch.length - 1]!.seq);
    return this.#pending();
  }
}

/** The participant object's committed state as its room sees it (tracks with a level). */
export function reportedParticipant(
  live: {
    participantId: string;
    roomId: string | null;
    sinceMs: number;
    detection: { level: Level; levelTracks(): Array<{ trackId: string; level: Level | null }> };
  } | null,
): ReportedParticipant | null {
  if (!live) return null;
  const tracks: RoomTrack[] = [];
  for (const t of live.detection.levelTracks()) {
    if (t.level !== null) tracks.push({ track_id: t.trackId, level: t.level });
  }
  const { participantId, roomId, sinceMs } = live;
  return { participantId, roomId, level: live.detection.level, sinceMs, tracks };
}

/** The reporter of a participant object: its storage, its room objects, its committed state. */
export function participantRoomReporter(
  sql: SqlLike,
  rooms: RoomsNamespace,
  live: () => Parameters<typeof reportedParticipant>[0],
  connected: () => boolean,
  rearm: () => void,
): RoomReporter {
  return new RoomReporter({
    sql,
    participant: () => reportedParticipant(live()),
    connected,
    send: (roomId, batch) => rooms.get(rooms.idFromName(roomId)).report(batch),
    rearm,
  });
}
