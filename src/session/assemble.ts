/**
 * Builds the parts of one participant object and the list of capabilities its shell loops over
 * (docs/DESIGN.md §2): connections and intake, transitions and track expiry, the upstream link,
 * webhooks, retention, counters and on-demand checks. The shell (./participant-session.ts) only wires entry points to
 * this; adding a capability is adding it to `capabilities` below.
 */
import type { Checks } from "../checks/checks.js";
import { checkFromSocket, participantChecks } from "../checks/wiring.js";
import type { Config } from "../config/config.js";
import { encodeJpeg } from "../media/jpeg.js";
import { errorMessage, log } from "../shared/log.js";
import type { RoomsEnv } from "../rooms/membership.js";
import { participantRoomReporter, type RoomReporter } from "../rooms/room-reporter.js";
import { connectUpstream, type SimulatorNamespace } from "../upstream/dial.js";
import type { UpstreamLink } from "../upstream/link.js";
import { WebhookOutbox } from "../webhooks/outbox.js";
import { activateParticipant, fpsForLevel, samplingLevel, type ActiveParticipant } from "./active-participant.js";
import type { Capability } from "./capability.js";
import { Connections } from "./connections.js";
import { SessionCounters, type CounterName } from "./counters.js";
import { RetentionDeadline, WebhookDeadline } from "./deadlines.js";
import { Schema } from "./schema.js";
import { SocketMessages } from "./socket-messages.js";
import { SessionStore, recordChange, type ParticipantRow } from "./store.js";
import { Transitions } from "./transitions.js";
import { IdleClose, participantLink } from "./upstream.js";

/** What the parts need from the shell: the alarm, the purge, and the socket departure loop. */
export interface ShellHooks {
  arm(): void;
  purge(reason: string): Promise<unknown>;
  socketGone(connectionId: string, role: string, remaining: number, nowMs: number): void;
}

/** The participant this object serves, once known; memory follows the stored row. */
export class Participant {
  live: ActiveParticipant | null = null;
  /** True once the schema exists (a participant connected and nothing purged it since). */
  stored = false;

  constructor(
    private readonly schema: Schema,
    private readonly store: SessionStore,
    private readonly activate: (row: ParticipantRow) => ActiveParticipant,
  ) {}

  /** On start: the stored session, if any, comes back as it was. A never-used object stays empty. */
  restore(): ParticipantRow | null {
    this.stored = this.schema.exists();
    if (!this.stored) return null;
    this.schema.migrate();
    const row = this.store.loadParticipant();
    if (row) this.live = this.activate(row);
    return row;
  }

  /** A socket for `participantId`: the stored session, or a new one (the schema is created now). */
  adopt(participantId: string, nowMs: number): ActiveParticipant {
    if (this.live?.participantId === participantId) return this.live;
    if (!this.stored) this.schema.migrate();
    this.stored = true;
    return (this.live = this.activate(this.store.ensureParticipant(participantId, nowMs)));
  }

  /** The session was purged. */
  forget(): void {
    this.stored = false;
    this.live = null;
  }
}

export interface SessionParts {
  config: Config;
  who: Participant;
  store: SessionStore;
  outbox: WebhookOutbox;
  counters: SessionCounters;
  sockets: Connections<WebSocket>;
  messages: SocketMessages<WebSocket>;
  transitions: Transitions;
  link: UpstreamLink;
  retention: RetentionDeadline;
  webhooks: WebhookDeadline;
  checks: Checks;
  /** Room reporting (docs/DESIGN.md §12): `rooms.report(event)` after a commit tells the participant's room. */
  rooms: RoomReporter;
  /** Every part the shell loops over: for the alarm, socket departures, purge and start. */
  capabilities: Capability[];
}

/** The bindings the parts use: the simulator (development mode) and the room objects. */
export interface SessionBindings extends RoomsEnv {
  UPSTREAM_SIMULATOR: SimulatorNamespace;
}

export function assembleSession(
  ctx: DurableObjectState,
  config: Config,
  bindings: SessionBindings,
  shell: ShellHooks,
): SessionParts {
  const simulator = bindings.UPSTREAM_SIMULATOR;
  let link: UpstreamLink;
  const store = new SessionStore(ctx.storage.sql);
  const outbox = new WebhookOutbox(ctx.storage.sql);
  const counters = new SessionCounters((values) => {
    if (who.stored) store.saveCounters(values);
  });
  const activate = (row: ParticipantRow) =>
    activateParticipant(config, row, store.loadTracks(), Date.now(), encodeJpeg, {
      send: (bytes, trackId) => link.send(bytes, trackId),
      count: (name) => counters.add(name),
    });
  const who = new Participant(new Schema(ctx.storage.sql), store, activate);
  const participantId = () => who.live?.participantId;
  const ready = () => who.stored;
  const count = (name: CounterName, by?: number) => counters.add(name, by);
  const sockets = new Connections<WebSocket>(ctx);
  const connected = () => sockets.live().length > 0;
  const stored = () => (who.stored ? who.live : null);
  const rooms = participantRoomReporter(ctx.storage.sql, bindings.ROOMS, stored, connected, () => shell.arm());

  const transitions = new Transitions({
    commit: (alert, tracks, nowMs) =>
      ctx.storage.transactionSync(() => recordChange(store, outbox, config.webhooks.urls, alert, tracks, nowMs)),
    persistActivity: (trackId, atMs) => store.saveTrackActivity(trackId, atMs),
    simulated: config.simulated,
    rearm: () => {
      shell.arm();
      rooms.stateChanged(); // tracks changed: the room's per-track levels follow
    },
    broadcast: (event) => {
      sockets.broadcast(event);
      if (event.type === "deepfake_alert") rooms.report(event);
    },
    // The rate follows the level, except while an on-demand check samples at the burst rate.
    levelChanged: (previous, level, nowMs) => {
      const live = who.live;
      if (!live) return;
      const fps = fpsForLevel(config, samplingLevel(live, level));
      if (fps !== live.intake.videoFps) live.intake.setVideoFps(fps, nowMs);
      messages.announceRates(samplingLevel(live, previous), samplingLevel(live, level));
    },
    deliverWebhooks: () => deliverNow(),
    resultApplied: (trackId, level, nowMs) => checks.onResult(trackId, level, nowMs),
    count,
    log,
  });

  const messages = new SocketMessages<WebSocket>({
    config,
    sockets,
    live: () => who.live,
    wantUpstream: () => link.start(),
    count,
    tracksClosed: (trackIds, nowMs) => {
      if (who.live) transitions.closeTracks(who.live, trackIds, nowMs);
    },
    left: (remaining, gone) => shell.socketGone(gone.id, gone.role, remaining, Date.now()),
    check: (durationS, nowMs) => checkFromSocket(checks, durationS, nowMs),
  });

  const logFields = () => ({ participant: participantId() });
  const claimed = () => shell.arm();
  const eventBody = (eventId: string) => checks.eventJson(eventId);
  const webhooks = new WebhookDeadline(outbox, store, config.webhooks, { ready, logFields, claimed, eventBody });
  const deliverNow = () => {
    if (config.webhooks.urls.length === 0) return;
    // The rows are durable already: if this attempt fails for any reason, the alarm retries it.
    webhooks.run().then(
      () => shell.arm(),
      (err: unknown) => log("error", "webhook delivery run failed", { ...logFields(), reason: errorMessage(err) }),
    );
  };
  const idle = () => sockets.live().length === 0 && outbox.pendingCount() === 0;
  const retention = new RetentionDeadline(store, config.retentionMs, {
    ready,
    idle,
    purge: async (reason) => void (await shell.purge(reason)),
  });

  link = participantLink(config, {
    participantId,
    dial: (id) => connectUpstream(config, id, simulator),
    broadcast: (event) => sockets.broadcast(event),
    count,
    message: (data) => {
      if (who.live) transitions.onUpstreamMessage(who.live, data, Date.now());
    },
    // A track lives while FrameRequests for it go upstream, not while frames merely arrive.
    trackSent: (trackId) => {
      if (who.live) transitions.trackSent(who.live, trackId, Date.now());
      checks.trackSent(trackId, Date.now());
    },
  });

  const checks = participantChecks({
    config, sql: ctx.storage.sql, outbox, live: () => who.live, stored: ready, count, log,
    transaction: (write) => ctx.storage.transactionSync(write),
    broadcast: (event) => sockets.broadcast(event),
    announceRates: (previous, level) => messages.announceRates(previous, level),
    announceAudioHints: (nowMs) => messages.announceAudioHints(nowMs),
    deliverWebhooks: () => deliverNow(),
    arm: () => shell.arm(),
    // Room reporting (docs/DESIGN.md §12): check events reach the room's watchers (and its log).
    roomId: () => who.live?.roomId ?? null,
    reportToRoom: (event) => rooms.report(event),
  });

  const capabilities = [
    connectionsCapability(sockets, messages),
    transitions.capability(() => who.live),
    upstreamCapability(link, sockets, counters, config.upstreamIdleCloseMs),
    webhooks,
    retention,
    countersCapability(counters, store, ready),
    checks,
    rooms,
  ];

  return {
    config, who, store, outbox, counters, sockets, messages, transitions, link, retention, webhooks, checks, rooms,
    capabilities,
  };
}

/** Client sockets, their budgets and their per-connection state. */
function connectionsCapability(sockets: Connections<WebSocket>, messages: SocketMessages<WebSocket>): Capability {
  return {
    name: "connections",
    nextDeadline: () => null,
    onDeadline: () => {},
    onPurge: () => {
      sockets.clear();
      messages.reset();
    },
  };
}

/**
 * The upstream link lives while sockets do: opened when one joins (or when an object wakes with
 * sockets still attached), closed a while after the last one left, and at a purge.
 */
function upstreamCapability(
  link: UpstreamLink,
  sockets: Connections<WebSocket>,
  counters: SessionCounters,
  idleCloseMs: number,
): Capability {
  const idleClose = new IdleClose(idleCloseMs, () => {
    if (sockets.live().length > 0) return;
    link.stop("no clients");
    counters.flush();
  });
  return {
    name: "upstream",
    nextDeadline: () => null,
    onDeadline: () => {},
    onStart: () => {
      if (sockets.live().length > 0) link.start();
    },
    onSocketJoined: () => {
      idleClose.cancel();
      link.start();
    },
    onSocketGone: ({ remaining }) => {
      if (remaining === 0) idleClose.schedule();
    },
    onPurge: (reason) => {
      idleClose.cancel();
      link.stop(reason);
    },
  };
}

/** Counters: loaded on start, flushed on their own timer, zeroed at a purge. */
function countersCapability(counters: SessionCounters, store: SessionStore, ready: () => boolean): Capability {
  return {
    name: "counters",
    nextDeadline: () => null,
    onDeadline: () => {},
    onStart: () => {
      if (ready()) counters.load(store.loadCounters());
    },
    onPurge: () => counters.reset(),
  };
}
