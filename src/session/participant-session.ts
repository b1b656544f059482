/**
 * ParticipantSession: one Durable Object per participant. A thin shell that wires client sockets
 * (hibernation API), the upstream link, SQLite storage and one alarm to the pure modules:
 *   client/SFU messages -> media intake -> upstream link (queue + backoff)
 *   upstream results -> detection state machine -> state + history + webhook outbox (one transaction)
 *                    -> client events, webhook deliveries (alarm-driven retries), retention purge
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import {
  MAX_CLIENTS_PER_PARTICIPANT,
  MAX_CONSECUTIVE_BAD_MESSAGES,
  MAX_VIDEO_TRACKS,
  SAMPLER_TOLERANCE_RATIO,
  TRACK_TTL_MS,
  UPSTREAM_CONNECT_TIMEOUT_MS,
  UPSTREAM_HEALTHY_AFTER_MS,
  parseConfig,
  type Config,
} from "../config.js";
import { DetectionState, type Level } from "../detection/state-machine.js";
import { encodeJpeg } from "../media/jpeg.js";
import { Backoff } from "../upstream/backoff.js";
import { decodeResultEvent } from "../upstream/codec.js";
import { connectUpstream } from "../upstream/connect.js";
import { UpstreamLink, type Outgoing } from "../upstream/connection.js";
import { SendQueue } from "../upstream/send-queue.js";
import { runDueDeliveries } from "../webhooks/deliver.js";
import { WebhookOutbox } from "../webhooks/outbox.js";
import { errorMessage, log } from "../log.js";
import { ClientInputError, parseClientMessage } from "./client-messages.js";
import { newEventId, type DeepfakeAlert, type ServerEvent } from "./events.js";
import { MediaIntake, type Feed, type IntakeCounter } from "./media-intake.js";
import { Connections, SOCKET_ROLES, connectionFps, parseRateOverrides, type ConnectionInfo, type SocketRole } from "./connections.js";
import { parseEventsQuery, parseWebhooksQuery } from "./queries.js";
import { parseSfuPacket } from "./sfu-packets.js";
import { SessionCounters, type CounterName } from "./counters.js";
import { SessionStore } from "./store.js";

/** Header the router uses to tell the object which participant it serves. */
export const PARTICIPANT_HEADER = "x-participant-id";

const RETENTION_DEADLINE = "retention";


/** Everything that exists only once the participant is known (and is dropped by a purge). */
interface Live {
  participantId: string;
  sinceMs: number;
  detection: DetectionState;
  intake: MediaIntake;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const jsonError = (status: number, error: string, message: string) => json({ error, message }, status);

export class ParticipantSession extends DurableObject<Env> {
  readonly #config: Config;
  readonly #store: SessionStore;
  readonly #outbox: WebhookOutbox;
  readonly #link: UpstreamLink;
  #storeReady: boolean;
  #live: Live | null = null;
  readonly #counters: SessionCounters;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #connections = new Connections<WebSocket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = parseConfig(env);
    this.#store = new SessionStore(ctx.storage.sql);
    this.#outbox = new WebhookOutbox(ctx.storage.sql);
    this.#counters = new SessionCounters((values) => {
      if (!this.#storeReady) return;
      try {
        this.#store.saveCounters(values);
      } catch (err) {
        log("error", "saving counters failed", { participant: this.#live?.participantId, reason: errorMessage(err) });
      }
    });
    // A never-used object stays empty: the schema is created when a participant first connects.
    this.#storeReady = this.#store.exists();
    if (this.#storeReady) {
      this.#store.migrate();
      this.#outbox.abandonUrlsNotIn(this.#config.webhooks.urls, Date.now());
      const row = this.#store.loadParticipant();
      if (row) this.#live = this.#buildLive(row.participantId, row.level, row.sinceMs);
      this.#counters.load(this.#store.loadCounters());
    }
    this.#link = new UpstreamLink({
      connect: () => {
        const participantId = this.#live?.participantId;
        if (!participantId) return Promise.reject(new Error("no participant"));
        return connectUpstream(this.#config, participantId, this.env.UPSTREAM_SIMULATOR);
      },
      backoff: new Backoff(this.#config.reconnect),
      queue: new SendQueue<Outgoing>({ ...this.#config.queue, sizeOf: (item) => item.data.byteLength }),
      healthyAfterMs: UPSTREAM_HEALTHY_AFTER_MS,
      connectTimeoutMs: UPSTREAM_CONNECT_TIMEOUT_MS,
      hooks: {
        connected: () => {
          this.#count("upstream_connects");
          log("info", "upstream connected", { participant: this.#live?.participantId, simulated: this.#config.simulated });
          this.#broadcast({ type: "upstream", status: "connected" });
        },
        reconnecting: (retryInMs, reason) => {
          log("warn", "upstream reconnecting", { participant: this.#live?.participantId, retry_in_ms: Math.round(retryInMs), reason });
          this.#broadcast({ type: "upstream", status: "reconnecting", retry_in_ms: Math.round(retryInMs) });
        },
        message: (data) => this.#onUpstreamMessage(data),
        dropped: (count) => this.#count("dropped_by_queue", count),
        stale: (count) => this.#count("dropped_stale", count),
        sent: (trackId) => {
          this.#count("messages_sent");
          // A track lives while FrameRequests for it go upstream, not while frames merely arrive.
          if (trackId) this.#live?.detection.touchTrack(trackId, Date.now());
        },
      },
    });
    // After hibernation the sockets are still there: keep the upstream open for them.
    if (this.#live && this.ctx.getWebSockets().length > 0) this.#link.start();
  }

  // ---- entry points -------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const socketRole = ({ "/stream": "client", "/sfu/video": "sfu-video", "/sfu/audio": "sfu-audio" } as const)[url.pathname];
      if (socketRole) return this.#accept(request, socketRole);
      if (!this.#live) return jsonError(404, "unknown_participant", "no session is stored for this participant");
      switch (`${request.method} ${url.pathname}`) {
        case "GET /snapshot":
          return json(this.#snapshot(this.#live));
        case "GET /events": {
          const query = parseEventsQuery(url.searchParams);
          if (!query.ok) return jsonError(400, "bad_query", query.message);
          const events = this.#store.listHistory(query.value.after, query.value.limit);
          if (!events) return jsonError(400, "unknown_event", `no event ${query.value.after} in this participant's history`);
          return json({ events, next_after: events.length === query.value.limit ? events[events.length - 1]!.id : null });
        }
        case "GET /webhooks": {
          const query = parseWebhooksQuery(url.searchParams);
          if (!query.ok) return jsonError(400, "bad_query", query.message);
          const entries = this.#outbox.list(query.value);
          return json({
            ...this.#outbox.statusCounts(),
            webhooks: entries,
            next_after: entries.length === query.value.limit ? entries[entries.length - 1]!.seq : null,
          });
        }
        case "DELETE /session":
          return json(await this.#endSession("deleted"));
      }
      return jsonError(404, "not_found", `no such object route ${request.method} ${url.pathname}`);
    } catch (err) {
      log("error", "participant fetch failed", { class: "ParticipantSession", participant: this.#live?.participantId, reason: errorMessage(err) });
      return jsonError(500, "internal", "internal error");
    }
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    try {
      this.#count("messages_received");
      const live = this.#live;
      if (!live) throw new ClientInputError("decode_failed", "this session has ended; reconnect");
      this.#link.start();
      let info = this.#connections.get(ws, this.#role(ws));
      const now = Date.now();
      const maxBytes = this.#config.maxClientMessageBytes;
      let fedTrack: string | null;
      if (info.role === "client") {
        const input = parseClientMessage(message, maxBytes);
        if (input.kind === "hello") info = this.#connections.update(ws, { client: input.client, vad: input.vad, honorsRate: input.honorsRate });
        else if (input.kind === "speaking") info = this.#connections.update(ws, { vad: true });
        fedTrack = await live.intake.ingestClientMessage(this.#feed(info, live), input, now);
      } else {
        const kind = info.role === "sfu-audio" ? "audio" : "video";
        fedTrack = await live.intake.ingestSfuPacket(this.#feed(info, live), kind, parseSfuPacket(message, maxBytes), now);
      }
      this.#connections.accepted(ws);
      if (fedTrack !== null) this.#connections.noteTrack(ws, fedTrack);
    } catch (err) {
      this.#reject(ws, err);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.#forgetSocket(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log("warn", "client socket error", { participant: this.#live?.participantId, reason: errorMessage(error) });
    this.#forgetSocket(ws);
  }

  /** One alarm for every durable deadline: webhook retries and the retention purge. */
  override async alarm(): Promise<void> {
    try {
      if (!this.#storeReady) return;
      await this.#deliverWebhooks();
      const retentionAt = this.#store.getDeadline(RETENTION_DEADLINE);
      if (retentionAt !== null && retentionAt <= Date.now() && this.ctx.getWebSockets().length === 0 && this.#outbox.pendingCount() === 0) {
        await this.#endSession("retention expired");
        return;
      }
    } catch (err) {
      log("error", "alarm failed", { class: "ParticipantSession", participant: this.#live?.participantId, reason: errorMessage(err) });
    }
    this.#rearm();
  }

  // ---- clients ------------------------------------------------------------------------------

  #accept(request: Request, role: SocketRole): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(426, "upgrade_required", "expected a WebSocket upgrade");
    }
    const participantId = request.headers.get(PARTICIPANT_HEADER);
    if (!participantId) return jsonError(400, "bad_request", "participant id missing");
    if (this.ctx.getWebSockets().length >= MAX_CLIENTS_PER_PARTICIPANT) {
      return jsonError(429, "too_many_clients", `at most ${MAX_CLIENTS_PER_PARTICIPANT} sockets per participant`);
    }
    const overrides = parseRateOverrides(new URL(request.url).searchParams, this.#config.video);
    if (!overrides.ok) return jsonError(400, "bad_rate", overrides.message);
    const live = this.#adopt(participantId);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [role]);
    const info = this.#connections.attach(server, role, Date.now(), overrides.value);
    this.#cancelIdleClose();
    this.#link.start();
    this.#rearm();
    log("info", "client joined", { participant: participantId, role, clients: this.ctx.getWebSockets().length, simulated: this.#config.simulated });
    if (role === "client") {
      this.#send(server, {
        type: "ready",
        participant_id: participantId,
        level: live.detection.level,
        video_fps: connectionFps(live.detection.level, this.#config.video, info),
        normal_fps: connectionFps("clear", this.#config.video, info),
        burst_fps: connectionFps("suspicious", this.#config.video, info),
        simulated: this.#config.simulated,
        dev_mode: this.#config.devMode,
        ...(this.#config.simulated ? { notice: "SIMULATED RESULTS: no DATASPIKE_API_KEY is set, a local simulator answers" } : {}),
      });
      if (this.#link.status === "connected") this.#send(server, { type: "upstream", status: "connected" });
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  #role(ws: WebSocket): SocketRole {
    return this.ctx.getTags(ws).find((t): t is SocketRole => SOCKET_ROLES.includes(t as SocketRole)) ?? "client";
  }

  /** The connection a message came from, as the media intake needs it. */
  #feed(info: ConnectionInfo, live: Live): Feed {
    return { connectionId: info.id, clientVad: info.vad ?? false, videoFps: connectionFps(live.detection.level, this.#config.video, info) };
  }

  #reject(ws: WebSocket, err: unknown): void {
    this.#count("bad_messages");
    if (err instanceof ClientInputError) {
      if (this.#role(ws) === "client") this.#send(ws, { type: "error", code: err.code, message: err.message });
    } else {
      log("error", "client message failed", { class: "ParticipantSession", participant: this.#live?.participantId, reason: errorMessage(err) });
      if (this.#role(ws) === "client") this.#send(ws, { type: "error", code: "internal", message: "the message could not be processed" });
    }
    const streak = this.#connections.rejected(ws);
    if (streak >= MAX_CONSECUTIVE_BAD_MESSAGES) {
      log("warn", "closing client after repeated bad messages", { participant: this.#live?.participantId, streak });
      try {
        ws.close(1008, `${streak} bad messages in a row`);
      } catch {
        // already closed
      }
      this.#forgetSocket(ws);
    }
  }

  #forgetSocket(ws: WebSocket): void {
    const { info, orphanedTracks } = this.#connections.forget(ws);
    const live = this.#live;
    if (live) {
      live.intake.endFeed(info.id, Date.now());
      for (const trackId of orphanedTracks) {
        live.detection.closeTrack(trackId);
        live.intake.forgetTrack(trackId);
      }
    }
    const sockets = this.ctx.getWebSockets();
    const remaining = sockets.filter((socket) => socket !== ws).length;
    log("info", "client left", { participant: live?.participantId, clients: remaining });
    if (remaining === 0) {
      this.#scheduleIdleClose();
      this.#rearm(sockets.length - remaining);
    }
  }

  #send(ws: WebSocket, event: ServerEvent): void {
    try {
      ws.send(JSON.stringify(event));
    } catch {
      // The socket is closing; its close handler cleans up.
    }
  }

  /** Events go to participant clients only; SFU adapter feeds speak protobuf Packets. */
  #broadcast(event: ServerEvent): void {
    const text = JSON.stringify(event);
    for (const ws of this.ctx.getWebSockets("client")) {
      try {
        ws.send(text);
      } catch {
        // closing socket
      }
    }
  }

  // ---- upstream and detection ---------------------------------------------------------------

  #onUpstreamMessage(data: ArrayBuffer): void {
    const live = this.#live;
    if (!live) return;
    try {
      let result;
      try {
        result = decodeResultEvent(new Uint8Array(data));
      } catch (err) {
        this.#count("upstream_undecodable");
        log("warn", "skipped an undecodable upstream message", { participant: live.participantId, bytes: data.byteLength, reason: errorMessage(err) });
        return;
      }
      if (result.participantId && result.participantId !== live.participantId) {
        // One upstream connection per participant: a result for someone else is never applied here.
        this.#count("results_misrouted");
        log("warn", "skipped a result for another participant", { participant: live.participantId });
        return;
      }
      const now = Date.now();
      const trackId = result.trackId || "unknown";
      const outcome = live.detection.applyResult(result.kind, trackId, result.message, now);
      switch (outcome.kind) {
        case "transition":
          this.#count("results");
          return this.#applyTransition(live, outcome.transition.previous, outcome.transition.level, trackId, result.message, now);
        case "unchanged":
          return this.#count("results");
        case "error":
          this.#count("upstream_errors");
          log("warn", "upstream reported an error", { participant: live.participantId, track: trackId, message: result.message.slice(0, 500) });
          return this.#broadcast({ type: "upstream_error", track_id: trackId, message: result.message });
        case "unknown":
          return this.#count("results_unknown");
      }
    } catch (err) {
      log("error", "upstream result failed", { class: "ParticipantSession", participant: live.participantId, reason: errorMessage(err) });
    }
  }

  /** State, history and webhook outbox change in one transaction; only then do events go out. */
  #applyTransition(live: Live, previous: Level, level: Level, trackId: string, message: string, nowMs: number): void {
    const alert: DeepfakeAlert = {
      type: "deepfake_alert",
      id: newEventId(nowMs),
      level,
      previous_level: previous,
      participant_id: live.participantId,
      track_id: trackId,
      message,
      timestamp_ms: nowMs,
    };
    this.ctx.storage.transactionSync(() => {
      this.#store.recordTransition(alert);
      this.#outbox.enqueue(alert, this.#config.webhooks.urls, nowMs);
    });
    live.sinceMs = nowMs;
    this.#count("events");
    log("info", "level changed", { participant: alert.participant_id, event: alert.id, previous_level: previous, new_level: level, track: trackId });
    this.#broadcast(alert);
    const fps = this.#fpsFor(level);
    if (fps !== live.intake.videoFps) live.intake.setVideoFps(fps, nowMs);
    // Each client hears its own rate: the deployment's, lowered by its connection's override.
    for (const ws of this.ctx.getWebSockets("client")) {
      const info = this.#connections.get(ws);
      const before = connectionFps(previous, this.#config.video, info);
      const after = connectionFps(level, this.#config.video, info);
      if (after !== before) this.#send(ws, { type: "rate", video_fps: after });
    }
    if (this.#config.webhooks.urls.length > 0) {
      // The rows are durable already: if this attempt fails for any reason, the alarm retries it.
      this.#deliverWebhooks()
        .then(() => this.#rearm())
        .catch((err: unknown) => log("error", "webhook delivery run failed", { participant: live.participantId, reason: errorMessage(err) }));
    }
  }

  #fpsFor(level: Level): number {
    return level === "suspicious" ? this.#config.video.burstFps : this.#config.video.normalFps;
  }

  // ---- webhooks, retention, storage ---------------------------------------------------------

  async #deliverWebhooks(): Promise<void> {
    const { secretKey, scheduleMs, timeoutMs } = this.#config.webhooks;
    if (!secretKey || !this.#storeReady) return;
    const run = runDueDeliveries(this.#outbox, {
      secretKey,
      schedule: scheduleMs,
      timeoutMs,
      log,
      logFields: { participant: this.#live?.participantId },
    });
    // Claims are taken synchronously: arm the backstop alarm at their lease deadline right away.
    this.#rearm();
    await run;
  }

  /**
   * Arms the single alarm to the earliest durable deadline: the next webhook attempt, or the
   * retention purge (set once no client is connected and no webhook is pending).
   */
  #rearm(leaving = 0): void {
    if (!this.#storeReady) return;
    const idle = this.ctx.getWebSockets().length - leaving <= 0 && this.#outbox.pendingCount() === 0;
    let retentionAt = this.#store.getDeadline(RETENTION_DEADLINE);
    if (idle && retentionAt === null) {
      retentionAt = Date.now() + this.#config.retentionMs;
      this.#store.setDeadline(RETENTION_DEADLINE, retentionAt);
    } else if (!idle && retentionAt !== null) {
      this.#store.setDeadline(RETENTION_DEADLINE, null);
      retentionAt = null;
    }
    const due = [this.#outbox.nextDueMs(), retentionAt].filter((t): t is number => t !== null);
    if (due.length === 0) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(Math.min(...due));
  }

  /** Ends the session: closes every socket and the upstream, and deletes all stored state. */
  async #endSession(reason: string): Promise<{ deleted: true; participant_id: string | null }> {
    const participantId = this.#live?.participantId ?? null;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(1000, `session ended: ${reason}`);
      } catch {
        // already closed
      }
    }
    this.#connections.clear();
    this.#cancelIdleClose();
    this.#link.stop(reason);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#storeReady = false;
    this.#live = null;
    this.#counters.reset();
    log("info", "session purged", { participant: participantId, reason });
    return { deleted: true, participant_id: participantId };
  }

  #adopt(participantId: string): Live {
    if (this.#live?.participantId === participantId) return this.#live;
    if (!this.#storeReady) {
      this.#store.migrate();
      this.#storeReady = true;
    }
    const row = this.#store.ensureParticipant(participantId, Date.now());
    this.#live = this.#buildLive(row.participantId, row.level, row.sinceMs);
    return this.#live;
  }

  #buildLive(participantId: string, level: Level, sinceMs: number): Live {
    const video = this.#config.video;
    return {
      participantId,
      sinceMs,
      detection: new DetectionState({ initialLevel: level, trackTtlMs: TRACK_TTL_MS }),
      intake: new MediaIntake({
        participantId,
        audioIntervalMs: this.#config.audioIntervalMs,
        video: {
          fps: this.#fpsFor(level),
          jpegQuality: video.jpegQuality,
          limits: { maxWidth: video.maxWidth, maxHeight: video.maxHeight, maxPixels: video.maxWidth * video.maxHeight },
          toleranceRatio: SAMPLER_TOLERANCE_RATIO,
          maxTracks: MAX_VIDEO_TRACKS,
          encode: encodeJpeg,
        },
        outputs: { send: (bytes) => this.#link.send(bytes), count: (name: IntakeCounter) => this.#count(name) },
      }),
    };
  }

  #scheduleIdleClose(): void {
    this.#cancelIdleClose();
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.ctx.getWebSockets().length > 0) return;
      this.#link.stop("no clients");
      this.#counters.flush();
      log("info", "upstream closed: no clients", { participant: this.#live?.participantId });
    }, this.#config.upstreamIdleCloseMs);
  }

  #cancelIdleClose(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  #count(name: CounterName, by = 1): void {
    this.#counters.add(name, by);
  }

  #snapshot(live: Live) {
    const now = Date.now();
    return {
      participant_id: live.participantId,
      level: live.detection.level,
      since_ms: live.sinceMs,
      video_fps: live.intake.videoFps,
      simulated: this.#config.simulated,
      upstream: { status: this.#link.status, queued: this.#link.queued },
      clients: this.ctx.getWebSockets("client").length,
      feeds: this.ctx.getWebSockets().length - this.ctx.getWebSockets("client").length,
      tracks: live.detection.tracks(now).map((t) => ({ track_id: t.trackId, level: t.level, last_activity_ms: t.lastActivityMs })),
      counters: this.#counters.snapshot(),
      history: { events: this.#store.historyCount() },
      webhooks: this.#outbox.statusCounts(),
      retention_purge_at_ms: this.#store.getDeadline(RETENTION_DEADLINE),
    };
  }
}
