/**
 * ParticipantSession: one Durable Object per participant. A shell that hosts capabilities
 * (docs/DESIGN.md §2): ./assemble.ts builds the parts and their list; each entry point here is a
 * try/catch that hands one call to a part, and the alarm, socket departures, purge and start loop
 * over the list. Management is typed RPC; every call names its participant, checked against storage.
 */
import { DurableObject } from "cloudflare:workers";
import { parseConfig, type ConfigVars } from "../config/config.js";
import { MAX_CLIENTS_PER_PARTICIPANT } from "../config/limits.js";
import type { ServerEvent } from "../protocol/events.js";
import { protocolHeaders } from "../protocol/subprotocol.js";
import { jsonError, refuse, type Answer } from "../shared/http.js";
import { errorMessage, log } from "../shared/log.js";
import { joinRoom } from "../rooms/membership.js";
import type { ActiveParticipant } from "./active-participant.js";
import { DeadlineRegistry } from "./alarm.js";
import { assembleSession, type SessionBindings, type SessionParts } from "./assemble.js";
import { closeQuietly, parseRateOverrides, readyEvent, roleForPath, sendEvent } from "./connections.js";
import type { SocketRole } from "./connections.js";
import type { Redelivery } from "./deadlines.js";
import { identityConflict, participantFromPath } from "./identity.js";
import type { EventsQuery, WebhooksQuery } from "./queries.js";
import { historyPage, outboxPage, participantSnapshot } from "./snapshot.js";
import type { HistoryPage, OutboxPage, ParticipantSnapshot } from "./snapshot.js";

/** What the object uses of the Worker's env: the vars, the simulator (development mode) and the room objects. */
export interface SessionEnv extends ConfigVars, SessionBindings {}

const NO_SESSION = refuse(404, "unknown_participant", "no session is stored for this participant");
const INTERNAL = refuse(500, "internal", "the participant object could not serve this call; it was logged");
type Ended = { deleted: true; participant_id: string | null };

export class ParticipantSession extends DurableObject<SessionEnv> {
  readonly #parts: SessionParts;
  readonly #alarm: DeadlineRegistry;

  constructor(ctx: DurableObjectState, env: SessionEnv) {
    super(ctx, env);
    const parts = (this.#parts = assembleSession(ctx, parseConfig(env), env, {
      arm: () => this.#arm(),
      purge: (reason) => this.#purge(reason),
      socketGone: (connectionId, role, remaining, nowMs) => {
        this.#each("socket gone", (c) => c.onSocketGone?.({ connectionId, role, remaining }, nowMs));
        this.#arm();
      },
    }));
    const storage = ctx.storage;
    const physical = { set: (at: number) => void storage.setAlarm(at), clear: () => void storage.deleteAlarm() };
    this.#alarm = new DeadlineRegistry(parts.capabilities, physical, (part, err) => this.#failed(part, err));
    this.#start();
  }

  // ---- entry points: the socket upgrade, RPC, hibernation events, the alarm ------------------

  override async fetch(request: Request): Promise<Response> {
    try {
      const path = new URL(request.url).pathname;
      const role = roleForPath(path);
      if (!role) return jsonError(404, "not_found", "the participant object only accepts WebSocket upgrades");
      return this.#accept(request, role, participantFromPath(path));
    } catch (err) {
      this.#failed("upgrade", err);
      return jsonError(500, "internal", "internal error");
    }
  }

  async snapshot(participantId?: string): Promise<Answer<ParticipantSnapshot>> {
    return this.#serve(participantId, "snapshot", (live) => {
      const { config, sockets, link, counters, store, outbox, retention } = this.#parts;
      const [all, clients] = [sockets.live().length, sockets.live("client").length];
      const upstream = { status: link.status, queued: link.queued };
      const value = participantSnapshot({
        live, config, upstream, clients, feeds: all - clients, counters: counters.snapshot(), store, outbox,
        retentionPurgeAtMs: retention.scheduledAt(), nowMs: Date.now(),
      });
      return { ok: true, value };
    });
  }

  async history(query: EventsQuery, participantId?: string): Promise<Answer<HistoryPage>> {
    return this.#serve(participantId, "history", () => historyPage(this.#parts.store, query));
  }

  async webhooks(query: WebhooksQuery, participantId?: string): Promise<Answer<OutboxPage>> {
    return this.#serve(participantId, "webhooks", () => outboxPage(this.#parts.outbox, query));
  }

  async redeliver(seq: number, participantId?: string): Promise<Answer<Redelivery>> {
    return this.#serve(participantId, "redeliver", () => this.#parts.webhooks.redeliver(seq, Date.now()));
  }

  async check(durationS: number | undefined, participantId?: string) {
    return this.#serve(participantId, "check", () => this.#parts.checks.start(durationS, Date.now()));
  }

  async end(participantId?: string): Promise<Answer<Ended>> {
    const refused = this.#refusal(participantId);
    if (refused) return refused;
    if (!this.#parts.who.live) return NO_SESSION;
    try {
      return { ok: true, value: await this.#purge("deleted") };
    } catch (err) {
      this.#failed("end", err);
      return INTERNAL;
    }
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    try {
      await this.#parts.messages.receive(ws, message, Date.now());
    } catch (err) {
      this.#failed("message", err);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      this.#parts.messages.gone(ws, Date.now());
    } catch (err) {
      this.#failed("socket close", err);
    }
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log("warn", "client socket error", { participant: this.#id(), reason: errorMessage(error) });
    try {
      this.#parts.messages.gone(ws, Date.now());
    } catch (err) {
      this.#failed("socket error", err);
    }
  }

  override async alarm(): Promise<void> {
    try {
      if (this.#parts.who.stored) await this.#alarm.fire(Date.now());
    } catch (err) {
      this.#failed("alarm", err);
    }
    this.#arm();
  }

  // ---- the host: start, accept, serve, purge -----------------------------------------------

  /** A stored session comes back as it was, and its deadlines are armed without waiting for a request. */
  #start(): void {
    const row = this.#parts.who.restore();
    if (!this.#parts.who.stored) return;
    if (row) this.#each("start", (c) => c.onStart?.(row.participantId, Date.now()));
    this.#arm();
  }

  #accept(request: Request, role: SocketRole, participantId: string | null): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(426, "upgrade_required", "expected a WebSocket upgrade");
    }
    if (!participantId) return jsonError(400, "bad_participant_id", "the upgrade path names no valid participant id");
    const refused = this.#refusal(participantId);
    if (refused) return jsonError(refused.status, refused.error, refused.message);
    const { sockets, messages, config } = this.#parts;
    if (sockets.live().length >= MAX_CLIENTS_PER_PARTICIPANT) {
      return jsonError(429, "too_many_clients", `at most ${MAX_CLIENTS_PER_PARTICIPANT} sockets per participant`);
    }
    const cooling = messages.cooldown(Date.now()); // after a policy close, reconnecting buys no fresh budget
    if (cooling) return jsonError(429, "cooling_down", cooling);
    const overrides = parseRateOverrides(new URL(request.url).searchParams, config.video);
    if (!overrides.ok) return jsonError(400, "bad_rate", overrides.message);
    const live = this.#parts.who.adopt(participantId, Date.now());
    const room = joinRoom(live, request.headers, sockets.live().length, (r) => this.#parts.store.setRoom(r));
    if (!room.ok) return jsonError(409, "room_conflict", room.message);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [role]);
    const info = sockets.attach(server, role, Date.now(), overrides.value);
    this.#each("socket joined", (c) => c.onSocketJoined?.(info.id, role, Date.now()));
    this.#arm();
    log("info", "client joined", { participant: participantId, role, clients: sockets.live().length });
    if (role === "client") {
      const greeting: ServerEvent[] = [readyEvent(participantId, live, config, info, live.roomId)];
      if (this.#parts.link.status === "connected") greeting.push({ type: "upstream", status: "connected" });
      for (const event of greeting) sendEvent(server, event);
    }
    return new Response(null, { status: 101, webSocket: client, headers: protocolHeaders(request.headers) });
  }

  /** One RPC call for the participant it names: refused when the object holds another, or nothing. */
  async #serve<T>(participantId: string | undefined, what: string, call: (live: ActiveParticipant) => Answer<T>) {
    const refused = this.#refusal(participantId);
    if (refused) return refused;
    const live = this.#parts.who.live;
    if (!live) return NO_SESSION;
    try {
      return call(live);
    } catch (err) {
      this.#failed(what, err);
      return INTERNAL;
    }
  }

  #refusal(participantId: string | undefined) {
    const stored = this.#parts.who.live?.participantId;
    const conflict = identityConflict(participantId, { stored, addressedAs: this.ctx.id.name });
    if (conflict) log("warn", "refused a call for another participant", { participant: stored, asked: participantId });
    return conflict;
  }

  #arm(): void {
    if (this.#parts.who.stored) this.#alarm.arm(Date.now());
  }

  /** Ends the session: every capability forgets its state, sockets close, and storage is deleted. */
  async #purge(reason: string): Promise<Ended> {
    const participantId = this.#id() ?? null;
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1000, `session ended: ${reason}`);
    for (const capability of this.#parts.capabilities) {
      try {
        await capability.onPurge?.(reason);
      } catch (err) {
        this.#failed(`purge: ${capability.name}`, err);
      }
    }
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#parts.who.forget();
    log("info", "session purged", { participant: participantId, reason });
    return { deleted: true, participant_id: participantId };
  }

  /** Runs one hook of every capability, each isolated from the others' failures. */
  #each(what: string, hook: (capability: SessionParts["capabilities"][number]) => unknown): void {
    for (const capability of this.#parts.capabilities) {
      try {
        hook(capability);
      } catch (err) {
        this.#failed(`${what}: ${capability.name}`, err);
      }
    }
  }

  #id(): string | undefined {
    return this.#parts.who.live?.participantId ?? this.ctx.id.name;
  }

  #failed(entry: string, err: unknown): void {
    log("error", "participant object call failed", {
      class: "ParticipantSession", participant: this.#id(), entry, reason: errorMessage(err),
    });
  }
}
