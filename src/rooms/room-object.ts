/**
 * RoomObject: one Durable Object per room (docs/DESIGN.md §12), named by the room id. Its participants'
 * objects tell it what they committed (./room-reporter.ts); it keeps what it knows in SQLite, pushes
 * it to moderators over hibernatable watch sockets, tells the directory when something it lists
 * changes, and is purged RETENTION_HOURS after its last participant left. A shell over
 * ./room-state.ts and ./room-store.ts.
 */
import { DurableObject } from "cloudflare:workers";
import { parseConfig, type ConfigVars } from "../config/config.js";
import {
  MAX_WATCHERS_PER_ROOM, ROOM_ALERT_WINDOW_MS, ROOM_PRESENCE_CHECK_MS, ROOM_REPORT_TIMEOUT_MS, ROOM_RETRY_INITIAL_MS,
  ROOM_RETRY_MAX_MS,
} from "../config/limits.js";
import type { ParticipantEvent, RoomSnapshot, WatchEvent } from "../protocol/rooms.js";
import { protocolHeaders } from "../protocol/subprotocol.js";
import { jsonError, refuse, type Answer } from "../shared/http.js";
import { errorMessage, log } from "../shared/log.js";
import { closeQuietly } from "../session/connections.js";
import type { EventsQuery } from "../session/queries.js";
import type { RoomDirectory } from "./directory-object.js";
import { DIRECTORY_NAME } from "./directory-object.js";
import type { DirectoryUpdate } from "./directory.js";
import { RetrySender, withTimeout } from "./retry-sender.js";
import { RoomState, parseRoomReport, type RoomReport } from "./room-state.js";
import { RoomStore } from "./room-store.js";

/** The participant objects, as far as a room asks them (whether any socket is open). */
interface Participants {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): { snapshot(): Promise<{ ok: boolean; value?: { clients: number; feeds: number } }> };
}

export interface RoomEnv extends ConfigVars {
  ROOM_DIRECTORY: DurableObjectNamespace<RoomDirectory>;
  PARTICIPANT_SESSION: Participants;
}

/** Alerts sent to the directory per update at most (it shows how many happened in the last hour). */
const DIRECTORY_ALERT_TIMES = 100;
const WATCH_TAG = "watch";

export interface RoomCosts {
  reports: number;
  report_rpcs: number;
  rows_written: number;
  directory_rpcs: number;
  watchers: number;
}

export class RoomObject extends DurableObject<RoomEnv> {
  readonly #store: RoomStore;
  readonly #retentionMs: number;
  readonly #directory: RetrySender;
  #room: RoomState | null = null;
  #directoryDirty = false;
  /** When to ask the participants believed connected whether they still are (after a restart). */
  #presenceAtMs: number | null = null;
  #presencePending: boolean;
  readonly #costs = { reports: 0, report_rpcs: 0, directory_rpcs: 0 };

  constructor(ctx: DurableObjectState, env: RoomEnv) {
    super(ctx, env);
    this.#retentionMs = parseConfig(env).retentionMs;
    this.#store = new RoomStore(ctx.storage.sql);
    this.#directory = new RetrySender({
      send: () => this.#tellDirectory(),
      pending: () => this.#directoryDirty,
      timeoutMs: ROOM_REPORT_TIMEOUT_MS,
      initialMs: ROOM_RETRY_INITIAL_MS,
      maxMs: ROOM_RETRY_MAX_MS,
      rearm: () => this.#arm(),
      failed: (reason, failures) =>
        log("warn", "directory update failed; will retry", { room: this.#room?.roomId, reason, failures }),
      now: () => Date.now(),
    });
    const roomId = this.#store.exists() ? this.#store.roomId() : null;
    if (roomId !== null) this.#room = new RoomState(roomId, this.#store.loadParticipants());
    // Scheduled by the first call this instance serves (an alarm set in the constructor would cancel a running one).
    this.#presencePending = this.#room !== null && this.#room.connected > 0;
  }

  /** After a restart, the first call schedules the presence check (see #checkPresence). */
  #schedulePresence(): void {
    if (!this.#presencePending || this.#presenceAtMs !== null) return;
    this.#presenceAtMs = Date.now() + ROOM_PRESENCE_CHECK_MS;
    this.#arm();
  }

  // ---- RPC from participant objects ----------------------------------------------------------

  /** Reports from one participant, oldest first. Throws when they could not be stored (the participant retries). */
  async report(batch: unknown[]): Promise<{ applied: number }> {
    this.#costs.report_rpcs++;
    this.#schedulePresence();
    const reports = batch.map(parseRoomReport).filter((r): r is RoomReport => r !== null);
    const name = this.ctx.id.name ?? this.#room?.roomId ?? reports[0]?.room_id;
    if (!name) return { applied: 0 };
    const room = this.#ensure(name);
    const watch: WatchEvent[] = [];
    let applied = 0;
    let listingChanged = false;
    const nowMs = Date.now();
    try {
      this.ctx.storage.transactionSync(() => {
        for (const report of reports) {
          if (report.room_id !== room.roomId) continue;
          const change = room.apply(report);
          if (!change.accepted) continue;
          applied++;
          if (change.record) this.#store.saveParticipant(change.record);
          else this.#store.deleteParticipant(report.participant_id);
          if (change.logged) this.#store.logEvent(change.logged, nowMs);
          watch.push(...change.watch);
          listingChanged ||= change.listingChanged;
        }
        this.#moveRetention(room, nowMs);
      });
    } catch (err) {
      // Memory follows storage: forget what was applied in memory, and let the participant retry.
      this.#room = new RoomState(room.roomId, this.#store.loadParticipants());
      const fields = { class: "RoomObject", room: room.roomId, reason: errorMessage(err) };
      log("error", "storing room reports failed", fields);
      throw err;
    }
    this.#costs.reports += applied;
    this.#broadcast(watch);
    if (listingChanged) {
      this.#directoryDirty = true;
      this.#directory.kick();
    }
    this.#arm();
    return { applied };
  }

  // ---- RPC from the router ---------------------------------------------------------------------

  async snapshot(): Promise<Answer<RoomSnapshot>> {
    this.#schedulePresence();
    if (!this.#room) return refuse(404, "unknown_room", "no participant has reported to this room (or it was purged)");
    return { ok: true, value: this.#room.snapshot() };
  }

  async events(query: EventsQuery): Promise<Answer<{ events: ParticipantEvent[]; next_after: string | null }>> {
    if (!this.#room) return refuse(404, "unknown_room", "no participant has reported to this room (or it was purged)");
    const events = this.#store.listEvents(query.after, query.limit);
    if (!events) return refuse(400, "unknown_event", `no event ${query.after} in this room's log`);
    const last = events[events.length - 1];
    return { ok: true, value: { events, next_after: events.length === query.limit && last ? String(last.id) : null } };
  }

  /** What the room has cost since it started (for the benchmark): reports, RPCs, rows written. */
  async costs(): Promise<RoomCosts> {
    const watchers = this.ctx.getWebSockets(WATCH_TAG).length;
    return { ...this.#costs, rows_written: this.#store.rowsWritten, watchers };
  }

  // ---- the watch socket -------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    try {
      this.#schedulePresence();
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return jsonError(426, "upgrade_required", "expected a WebSocket upgrade");
      }
      const roomId = this.ctx.id.name ?? this.#room?.roomId;
      if (!roomId) return jsonError(400, "bad_request", "room objects are addressed by name");
      if (this.ctx.getWebSockets(WATCH_TAG).length >= MAX_WATCHERS_PER_ROOM) {
        return jsonError(429, "too_many_watchers", `at most ${MAX_WATCHERS_PER_ROOM} watch sockets per room`);
      }
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server, [WATCH_TAG]);
      // The snapshot goes first: reports are applied in this same single-threaded object, after it.
      const snapshot = this.#room?.snapshot() ?? { room_id: roomId, level: "clear", participants: [] };
      server.send(JSON.stringify({ type: "room", ...snapshot }));
      return new Response(null, { status: 101, webSocket: client, headers: protocolHeaders(request.headers) });
    } catch (err) {
      log("error", "watch upgrade failed", { class: "RoomObject", room: this.ctx.id.name, reason: errorMessage(err) });
      return jsonError(500, "internal", "internal error");
    }
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    // Watchers only listen: the socket carries no media, and anything binary closes it.
    if (typeof message === "string") return;
    closeQuietly(ws, 1003, "the watch socket carries no media; it only sends room events");
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, 1011, "socket error");
  }

  // ---- the alarm: directory retries and the retention purge ------------------------------------

  override async alarm(): Promise<void> {
    try {
      const room = this.#room;
      const now = Date.now();
      const purgeAt = room ? this.#store.purgeAt() : null;
      if (room && purgeAt !== null && purgeAt <= now && room.connected === 0) await this.#purge(room);
      else if (room) {
        // The presence check once per instance: at its deadline, or at the first alarm of an instance
        // woken for it (an evicted instance's deadline is not remembered).
        if (this.#presencePending) await this.#checkPresence(room);
        // A directory retry perhaps, of an instance that no longer knows: send again.
        this.#directoryDirty = true;
      }
      if (this.#directoryDirty) await this.#directory.onDeadline();
    } catch (err) {
      log("error", "room alarm failed", { class: "RoomObject", room: this.#room?.roomId, reason: errorMessage(err) });
    }
    this.#arm();
  }

  #ensure(roomId: string): RoomState {
    if (!this.#room) {
      this.#store.init(roomId);
      this.#room = new RoomState(roomId);
    }
    return this.#room;
  }

  #broadcast(events: readonly WatchEvent[]): void {
    if (events.length === 0) return;
    const texts = events.map((e) => JSON.stringify(e));
    for (const ws of this.ctx.getWebSockets(WATCH_TAG)) {
      for (const text of texts) {
        try {
          ws.send(text);
        } catch {
          break; // closing: its close handler cleans up
        }
      }
    }
  }

  /** Purge RETENTION_HOURS after the last participant left; never while one is connected. */
  #moveRetention(room: RoomState, nowMs: number): void {
    const at = this.#store.purgeAt();
    if (room.connected === 0 && at === null) this.#store.setPurgeAt(nowMs + this.#retentionMs);
    else if (room.connected > 0 && at !== null) this.#store.setPurgeAt(null);
  }

  #arm(): void {
    const purgeAt = this.#room ? this.#store.purgeAt() : null;
    const deadlines = [purgeAt, this.#directory.nextDeadline(Date.now()), this.#presenceAtMs];
    const at = deadlines.filter((d): d is number => d !== null).sort((a, b) => a - b)[0];
    if (at === undefined) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(at);
  }

  #summary(removed: boolean): DirectoryUpdate {
    const room = this.#room!;
    const now = Date.now();
    const alerts = removed ? [] : this.#store.recentAlerts(now - ROOM_ALERT_WINDOW_MS, DIRECTORY_ALERT_TIMES);
    const { level, connected, participants } = room.listing(alerts.length);
    const update = { room_id: room.roomId, level, connected, participants, alert_times_ms: alerts, updated_ms: now };
    return removed ? { ...update, removed } : update;
  }

  #directoryStub() {
    return this.env.ROOM_DIRECTORY.get(this.env.ROOM_DIRECTORY.idFromName(DIRECTORY_NAME));
  }

  async #tellDirectory(): Promise<boolean> {
    if (!this.#room) return (this.#directoryDirty = false);
    this.#directoryDirty = false;
    this.#costs.directory_rpcs++;
    try {
      await this.#directoryStub().update(this.#summary(false));
    } catch (err) {
      this.#directoryDirty = true;
      throw err;
    }
    return this.#directoryDirty;
  }

  /**
   * After a restart: asks each participant the room believes connected whether any socket is open.
   * One whose sockets went without a word (a crash, a deploy) has left; one that cannot be asked
   * keeps its entry until it reports again.
   */
  async #checkPresence(room: RoomState): Promise<void> {
    this.#presenceAtMs = null;
    this.#presencePending = false;
    const ns = this.env.PARTICIPANT_SESSION;
    const watch: WatchEvent[] = [];
    for (const pid of room.connectedIds()) {
      let open: boolean;
      try {
        const answer = await withTimeout(ns.get(ns.idFromName(pid)).snapshot(), ROOM_REPORT_TIMEOUT_MS);
        open = answer.ok && !!answer.value && answer.value.clients + answer.value.feeds > 0;
      } catch (err) {
        log("warn", "room presence check failed", { room: room.roomId, participant: pid, reason: errorMessage(err) });
        continue;
      }
      if (open || this.#room !== room) continue;
      const change = room.disconnect(pid);
      if (!change.accepted || !change.record) continue;
      this.ctx.storage.transactionSync(() => {
        this.#store.saveParticipant(change.record!);
        this.#moveRetention(room, Date.now());
      });
      watch.push(...change.watch);
      this.#directoryDirty = true;
    }
    this.#broadcast(watch);
    const left = watch.filter((e) => e.type === "participant_left").length;
    log("info", "room presence checked", { room: room.roomId, left });
  }

  async #purge(room: RoomState): Promise<void> {
    const reason = "room purged: nobody connected for RETENTION_HOURS";
    for (const ws of this.ctx.getWebSockets(WATCH_TAG)) closeQuietly(ws, 1000, reason);
    const removal = this.#summary(true);
    this.#room = null;
    this.#directoryDirty = false;
    this.#directory.reset();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    room.clear();
    log("info", "room purged", { room: removal.room_id });
    // Best effort: the directory also drops rooms it has not heard of for RETENTION_HOURS.
    this.#costs.directory_rpcs++;
    await withTimeout(this.#directoryStub().update(removal), ROOM_REPORT_TIMEOUT_MS).catch((err: unknown) =>
      log("warn", "telling the directory of a purged room failed", {
        room: removal.room_id,
        reason: errorMessage(err),
      }),
    );
  }
}
