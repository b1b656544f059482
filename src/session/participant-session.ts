/**
 * ParticipantSession: one Durable Object per participant (named by its id). A shell: each entry
 * point hands one call to a part. Socket messages -> media intake -> upstream link; results and
 * tracks that stop counting -> transitions (one transaction); one alarm for webhook retries,
 * retention and track expiry. Management is RPC (snapshot, history, webhooks, redeliver, end).
 */
import { DurableObject } from "cloudflare:workers";
import { parseConfig, type Config, type ConfigVars } from "../config/config.js";
import { MAX_CLIENTS_PER_PARTICIPANT } from "../config/limits.js";
import type { Level } from "../protocol/levels.js";
import { encodeJpeg } from "../media/jpeg.js";
import type { ServerEvent } from "../protocol/events.js";
import { protocolHeaders } from "../protocol/subprotocol.js";
import { jsonError, refuse, type Answer } from "../shared/http.js";
import { errorMessage, log } from "../shared/log.js";
import { connectUpstream, type SimulatorNamespace } from "../upstream/dial.js";
import type { UpstreamLink } from "../upstream/link.js";
import { WebhookOutbox } from "../webhooks/outbox.js";
import { activateParticipant, fpsForLevel, type ActiveParticipant } from "./active-participant.js";
import { DeadlineRegistry } from "./alarm.js";
import { Connections, closeQuietly, parseRateOverrides, readyEvent, roleForPath, sendEvent, type SocketRole } from "./connections.js";
import { SessionCounters, type CounterName } from "./counters.js";
import { RetentionDeadline, WebhookDeadline, type Redelivery } from "./deadlines.js";
import type { EventsQuery, WebhooksQuery } from "./queries.js";
import { Schema } from "./schema.js";
import { historyPage, outboxPage, participantSnapshot, type HistoryPage, type OutboxPage, type ParticipantSnapshot } from "./snapshot.js";
import { SocketMessages } from "./socket-messages.js";
import { SessionStore, recordChange } from "./store.js";
import { Transitions } from "./transitions.js";
import { IdleClose, participantLink } from "./upstream.js";

/** What the object uses of the Worker's env: the vars, and the simulator for development mode. */
export interface SessionEnv extends ConfigVars {
  UPSTREAM_SIMULATOR: SimulatorNamespace;
}

const NO_SESSION = refuse(404, "unknown_participant", "no session is stored for this participant");

export class ParticipantSession extends DurableObject<SessionEnv> {
  readonly #config: Config;
  readonly #schema: Schema;
  readonly #store: SessionStore;
  readonly #outbox: WebhookOutbox;
  readonly #counters: SessionCounters;
  readonly #sockets: Connections<WebSocket>;
  readonly #messages: SocketMessages<WebSocket>;
  readonly #transitions: Transitions;
  readonly #webhooks: WebhookDeadline;
  readonly #retention: RetentionDeadline;
  readonly #alarm: DeadlineRegistry;
  readonly #link: UpstreamLink;
  readonly #idleClose: IdleClose;
  #storeReady: boolean;
  #live: ActiveParticipant | null = null;

  constructor(ctx: DurableObjectState, env: SessionEnv) {
    super(ctx, env);
    const config = (this.#config = parseConfig(env));
    const count = (name: CounterName, by?: number) => this.#counters.add(name, by);
    const participant = () => this.#live?.participantId;
    const ready = () => this.#storeReady;
    this.#schema = new Schema(ctx.storage.sql);
    this.#store = new SessionStore(ctx.storage.sql);
    this.#outbox = new WebhookOutbox(ctx.storage.sql);
    this.#counters = new SessionCounters((values) => ready() && this.#store.saveCounters(values));
    this.#sockets = new Connections<WebSocket>(ctx);
    this.#messages = new SocketMessages({
      config, sockets: this.#sockets, live: () => this.#live, wantUpstream: () => this.#link.start(), count,
      tracksClosed: (trackIds, nowMs) => this.#live && this.#transitions.closeTracks(this.#live, trackIds, nowMs),
      left: (remaining) => remaining === 0 && (this.#idleClose.schedule(), this.#arm()),
    });
    this.#transitions = new Transitions({
      commit: (alert, tracks, nowMs) => ctx.storage.transactionSync(() => recordChange(this.#store, this.#outbox, config.webhooks.urls, alert, tracks, nowMs)),
      persistActivity: (trackId, atMs) => this.#store.saveTrackActivity(trackId, atMs),
      simulated: config.simulated,
      rearm: () => this.#arm(),
      broadcast: (event) => this.#sockets.broadcast(event),
      levelChanged: (previous, level, nowMs) => this.#levelChanged(previous, level, nowMs),
      deliverWebhooks: () => this.#deliverNow(),
      count,
      log,
    });
    this.#webhooks = new WebhookDeadline(this.#outbox, this.#store, config.webhooks, { ready, logFields: () => ({ participant: participant() }), claimed: () => this.#arm() });
    this.#retention = new RetentionDeadline(this.#store, config.retentionMs, { ready, idle: () => this.#idle(), purge: async (reason) => void (await this.#purge(reason)) });
    const alarm = { set: (at: number) => void ctx.storage.setAlarm(at), clear: () => void ctx.storage.deleteAlarm() };
    this.#alarm = new DeadlineRegistry([this.#webhooks, this.#retention, this.#transitions.expiryDeadline(() => this.#live)], alarm, (part, err) => log("error", "alarm part failed", { participant: participant(), part, reason: errorMessage(err) }));
    this.#link = participantLink(config, {
      participantId: participant,
      dial: (participantId) => connectUpstream(config, participantId, env.UPSTREAM_SIMULATOR),
      broadcast: (event) => this.#sockets.broadcast(event),
      count,
      message: (data) => this.#live && this.#transitions.onUpstreamMessage(this.#live, data, Date.now()),
      // A track lives while FrameRequests for it go upstream, not while frames merely arrive.
      trackSent: (trackId) => this.#live && this.#transitions.trackSent(this.#live, trackId, Date.now()),
    });
    this.#idleClose = new IdleClose(config.upstreamIdleCloseMs, () => this.#sockets.live().length === 0 && (this.#link.stop("no clients"), this.#counters.flush()));
    // A never-used object stays empty: the schema is created when a participant first connects.
    this.#storeReady = this.#schema.exists();
    if (this.#storeReady) {
      this.#schema.migrate();
      this.#outbox.abandonUrlsNotIn(config.webhooks.urls, Date.now());
      const row = this.#store.loadParticipant();
      if (row) this.#live = this.#activate(row);
      this.#counters.load(this.#store.loadCounters());
    }
    // After hibernation the sockets are still there: keep the upstream open for them.
    if (this.#live && ctx.getWebSockets().length > 0) this.#link.start();
  }

  // ---- entry points: the socket upgrade, RPC, hibernation events, the alarm ------------------

  override async fetch(request: Request): Promise<Response> {
    try {
      const role = roleForPath(new URL(request.url).pathname);
      if (!role) return jsonError(404, "not_found", "the participant object only accepts WebSocket upgrades");
      return this.#accept(request, role);
    } catch (err) {
      log("error", "participant upgrade failed", { class: "ParticipantSession", participant: this.ctx.id.name, reason: errorMessage(err) });
      return jsonError(500, "internal", "internal error");
    }
  }

  async snapshot(): Promise<Answer<ParticipantSnapshot>> {
    const live = this.#live;
    if (!live) return NO_SESSION;
    const [sockets, clients] = [this.ctx.getWebSockets().length, this.ctx.getWebSockets("client").length];
    return {
      ok: true,
      value: participantSnapshot({
        live, config: this.#config, upstream: { status: this.#link.status, queued: this.#link.queued }, clients, feeds: sockets - clients,
        counters: this.#counters.snapshot(), store: this.#store, outbox: this.#outbox, retentionPurgeAtMs: this.#retention.scheduledAt(), nowMs: Date.now(),
      }),
    };
  }

  async history(query: EventsQuery): Promise<Answer<HistoryPage>> {
    return this.#live ? historyPage(this.#store, query) : NO_SESSION;
  }

  async webhooks(query: WebhooksQuery): Promise<Answer<OutboxPage>> {
    return this.#live ? outboxPage(this.#outbox, query) : NO_SESSION;
  }

  async redeliver(seq: number): Promise<Answer<Redelivery>> {
    return this.#live ? this.#webhooks.redeliver(seq, Date.now()) : NO_SESSION;
  }

  async end(): Promise<Answer<{ deleted: true; participant_id: string | null }>> {
    if (!this.#live) return NO_SESSION;
    return { ok: true, value: await this.#purge("deleted") };
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    await this.#messages.receive(ws, message, Date.now());
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.#messages.gone(ws, Date.now());
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log("warn", "client socket error", { participant: this.#live?.participantId, reason: errorMessage(error) });
    this.#messages.gone(ws, Date.now());
  }

  override async alarm(): Promise<void> {
    try {
      if (this.#storeReady) await this.#alarm.fire(Date.now());
    } catch (err) {
      log("error", "alarm failed", { class: "ParticipantSession", participant: this.#live?.participantId, reason: errorMessage(err) });
    }
    this.#arm();
  }

  #accept(request: Request, role: SocketRole): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return jsonError(426, "upgrade_required", "expected a WebSocket upgrade");
    const participantId = this.ctx.id.name;
    if (!participantId) return jsonError(400, "bad_request", "participant objects are addressed by name");
    if (this.ctx.getWebSockets().length >= MAX_CLIENTS_PER_PARTICIPANT) return jsonError(429, "too_many_clients", `at most ${MAX_CLIENTS_PER_PARTICIPANT} sockets per participant`);
    const cooling = this.#messages.cooldown(Date.now()); // after a policy close, reconnecting buys no fresh budget
    if (cooling) return jsonError(429, "cooling_down", cooling);
    const overrides = parseRateOverrides(new URL(request.url).searchParams, this.#config.video);
    if (!overrides.ok) return jsonError(400, "bad_rate", overrides.message);
    const live = this.#adopt(participantId);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [role]);
    const info = this.#sockets.attach(server, role, Date.now(), overrides.value);
    this.#idleClose.cancel();
    this.#link.start();
    this.#arm();
    log("info", "client joined", { participant: participantId, role, clients: this.ctx.getWebSockets().length, simulated: this.#config.simulated });
    const greeting: ServerEvent[] = [readyEvent(participantId, live.detection.level, this.#config, info), ...(this.#link.status === "connected" ? [{ type: "upstream", status: "connected" } as const] : [])];
    if (role === "client") for (const event of greeting) sendEvent(server, event);
    return new Response(null, { status: 101, webSocket: client, headers: protocolHeaders(request.headers) });
  }


  /** The sampling rate follows the level; each client hears its own rate (its override applies). */
  #levelChanged(previous: Level, level: Level, nowMs: number): void {
    const fps = fpsForLevel(this.#config, level);
    if (this.#live && fps !== this.#live.intake.videoFps) this.#live.intake.setVideoFps(fps, nowMs);
    this.#messages.announceRates(previous, level);
  }

  #deliverNow(): void {
    if (this.#config.webhooks.urls.length === 0) return;
    // The rows are durable already: if this attempt fails for any reason, the alarm retries it.
    this.#webhooks.run().then(() => this.#arm(), (err: unknown) => log("error", "webhook delivery run failed", { participant: this.#live?.participantId, reason: errorMessage(err) }));
  }

  #arm(): void {
    if (this.#storeReady) this.#alarm.arm(Date.now());
  }

  #idle(): boolean {
    return this.#sockets.live().length === 0 && this.#outbox.pendingCount() === 0;
  }

  /** Ends the session: closes every socket and the upstream, and deletes all stored state. */
  async #purge(reason: string): Promise<{ deleted: true; participant_id: string | null }> {
    const participantId = this.#live?.participantId ?? null;
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1000, `session ended: ${reason}`);
    this.#sockets.clear();
    this.#idleClose.cancel();
    this.#link.stop(reason);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#storeReady = false;
    this.#live = null;
    this.#counters.reset();
    log("info", "session purged", { participant: participantId, reason });
    return { deleted: true, participant_id: participantId };
  }

  #adopt(participantId: string): ActiveParticipant {
    if (this.#live?.participantId === participantId) return this.#live;
    if (!this.#storeReady) this.#schema.migrate();
    this.#storeReady = true;
    return (this.#live = this.#activate(this.#store.ensureParticipant(participantId, Date.now())));
  }

  #activate(row: { participantId: string; level: Level; sinceMs: number }): ActiveParticipant {
    return activateParticipant(this.#config, row, this.#store.loadTracks(), Date.now(), encodeJpeg, { send: (bytes, trackId) => this.#link.send(bytes, trackId), count: (name) => this.#counters.add(name) });
  }
}
