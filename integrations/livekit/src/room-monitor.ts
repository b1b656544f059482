/**
 * monitorRoom(room, options): the bridge for one LiveKit room (docs/DESIGN.md §14). It joins as a hidden,
 * subscribe-only participant and subscribes only to camera and microphone tracks (a screen share is
 * never subscribed, so never decoded or sent). Each remote participant becomes participant
 * `<room>:<identity>` in room `<room>` of this service when its first track is subscribed, and
 * leaves when it disconnects. Every transition is published into the LiveKit room on topic
 * `deepfake_alert` and, with onAlert, acted on through the LiveKit server API. It rejoins LiveKit on
 * its own after a disconnect, unless an operator removed it (disconnects.ts); the SDK clients reconnect
 * to the service on their own.
 */
import {
  DisconnectReason,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackSource,
  type Participant,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
} from "@livekit/rtc-node";
import type { RoomServiceClient } from "livekit-server-sdk";
import type { ClientStats, DeepfakeAlert } from "@deepfake-edge/client";
import { ALERT_TOPIC, encodeAlert, liveKitAlert, type LiveKitAlert } from "./alert-message.js";
import type { EdgeService, LiveKitServer, OnAlertAction, SpeakingSource } from "./config.js";
import { finalDisconnect } from "./disconnects.js";
import { createEdgeClient } from "./edge.js";
import { participantIdFor, roomIdFor } from "./ids.js";
import { actOnAlert, bridgeToken, roomService } from "./livekit-api.js";
import { ParticipantLink, type MediaKind } from "./participant-link.js";

/** Rejoin delays after losing the LiveKit room: 1 s doubling to 30 s, plus up to 50 % jitter. */
export const REJOIN_INITIAL_MS = 1_000;
export const REJOIN_MAX_MS = 30_000;
/** Transitions kept while the bridge is not in the LiveKit room, published when it is back. */
export const MAX_PENDING_ALERTS = 64;

export interface MonitorOptions {
  livekit: LiveKitServer;
  edge: EdgeService;
  /** What to do when a participant goes to ALERT (default "none"). */
  onAlert?: OnAlertAction;
  /** Who decides when a participant speaks (default "service": its voice gate). */
  speaking?: SpeakingSource;
  /** The bridge's LiveKit identity (default deepfake-edge-<random>). */
  identity?: string;
  /** Also monitor LiveKit agents (participant kind AGENT): default false, they are the room's own bots. */
  includeAgents?: boolean;
  onEvent?: (event: MonitorEvent) => void;
  /** Rejoin delays (tests). */
  rejoin?: { initialMs?: number; maxMs?: number };
}

export type MonitorEvent =
  | { type: "connected"; room: string }
  | { type: "disconnected"; room: string; reason: string; retryInMs: number | null }
  | { type: "participant_joined"; room: string; identity: string; participantId: string }
  | { type: "participant_left"; room: string; identity: string; participantId: string }
  | { type: "alert"; room: string; alert: LiveKitAlert }
  | { type: "action"; room: string; identity: string; action: OnAlertAction; result: string }
  | { type: "problem"; room: string; message: string };

export interface MonitoredParticipant {
  identity: string;
  participantId: string;
  trackSids: string[];
  stats: ClientStats;
  videoFramesIn: number;
  audioFramesIn: number;
}

export interface RoomMonitor {
  /** The LiveKit room name. */
  readonly room: string;
  /** This service's room id for it. */
  readonly roomId: string;
  /** The bridge's LiveKit identity. */
  readonly identity: string;
  /** Resolves the first time the bridge is in the room. */
  readonly connected: Promise<void>;
  /** True while the bridge is in the LiveKit room. */
  readonly isConnected: boolean;
  /** Milliseconds since the room last had a monitored participant (0 while it has one). */
  idleMs(now?: number): number;
  participants(): MonitoredParticipant[];
  /** Leaves the service (every participant) and the LiveKit room, for good. */
  stop(): Promise<void>;
}

/** Which tracks the bridge streams: cameras and microphones. Screen share and the rest: never. */
export function mediaKindOf(source: TrackSource | undefined): MediaKind | null {
  if (source === TrackSource.SOURCE_CAMERA) return "camera";
  if (source === TrackSource.SOURCE_MICROPHONE) return "microphone";
  return null;
}

function randomIdentity(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `deepfake-edge-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function monitorRoom(room: string, options: MonitorOptions): RoomMonitor {
  return new LiveKitRoomMonitor(room, options);
}

class LiveKitRoomMonitor implements RoomMonitor {
  readonly room: string;
  readonly roomId: string;
  readonly identity: string;
  readonly connected: Promise<void>;
  readonly #options: MonitorOptions;
  readonly #links = new Map<string, ParticipantLink>();
  readonly #speaking = new Set<string>();
  readonly #pending: LiveKitAlert[] = [];
  #resolveConnected!: () => void;
  #lk: Room | null = null;
  #service: RoomServiceClient | null = null;
  #stopped = false;
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #idleSince = Date.now();

  constructor(room: string, options: MonitorOptions) {
    this.room = room;
    this.roomId = roomIdFor(room);
    this.identity = options.identity ?? randomIdentity();
    this.#options = options;
    this.connected = new Promise((resolve) => (this.#resolveConnected = resolve));
    void this.#join();
  }

  get isConnected(): boolean {
    return this.#lk?.isConnected ?? false;
  }

  idleMs(now = Date.now()): number {
    return this.#links.size > 0 ? 0 : now - this.#idleSince;
  }

  participants(): MonitoredParticipant[] {
    return [...this.#links.values()].map((link) => ({
      identity: link.identity,
      participantId: link.participantId,
      trackSids: link.trackSids,
      stats: link.client.stats,
      ...link.counters,
    }));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    await this.#closeLinks("monitor stopped");
    const lk = this.#lk;
    this.#lk = null;
    await lk?.disconnect().catch(() => undefined);
  }

  #emit(event: MonitorEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (err) {
      console.error("deepfake-edge-livekit: an onEvent listener threw", err);
    }
  }

  #problem(message: string): void {
    this.#emit({ type: "problem", room: this.room, message });
  }

  async #join(): Promise<void> {
    if (this.#stopped) return;
    const lk = new Room();
    // Every subscribed track adds a listener to its Room (@livekit/rtc-node): a room of many people is normal.
    lk.setMaxListeners(0);
    this.#wire(lk);
    try {
      const token = await bridgeToken(this.#options.livekit, this.room, this.identity);
      await lk.connect(this.#options.livekit.url, token, { autoSubscribe: false, dynacast: false });
    } catch (err) {
      await lk.disconnect().catch(() => undefined);
      this.#rejoinLater(`could not join: ${(err as Error).message}`);
      return;
    }
    if (this.#stopped) {
      await lk.disconnect().catch(() => undefined);
      return;
    }
    this.#lk = lk;
    this.#failures = 0;
    this.#emit({ type: "connected", room: this.room });
    this.#resolveConnected();
    for (const participant of lk.remoteParticipants.values()) {
      for (const publication of participant.trackPublications.values()) this.#consider(publication, participant);
    }
    void this.#flushPending();
  }

  #rejoinLater(reason: string): void {
    if (this.#stopped) return;
    const { initialMs = REJOIN_INITIAL_MS, maxMs = REJOIN_MAX_MS } = this.#options.rejoin ?? {};
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(this.#failures++, 20));
    const delay = Math.round(base * (1 + Math.random() * 0.5));
    this.#emit({ type: "disconnected", room: this.room, reason, retryInMs: delay });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#join();
    }, delay);
  }

  #wire(lk: Room): void {
    const mine = () => this.#lk === lk && !this.#stopped;
    lk.on(RoomEvent.TrackPublished, (publication, participant) => {
      if (mine()) this.#consider(publication, participant);
    });
    lk.on(RoomEvent.TrackSubscribed, (track, publication, participant) => {
      if (mine()) this.#subscribed(track, publication, participant);
    });
    lk.on(RoomEvent.TrackUnsubscribed, (_track, publication, participant) => {
      if (mine() && publication.sid) void this.#links.get(participant.identity)?.removeTrack(publication.sid);
    });
    lk.on(RoomEvent.TrackUnpublished, (publication, participant) => {
      if (mine() && publication.sid) void this.#links.get(participant.identity)?.removeTrack(publication.sid);
    });
    lk.on(RoomEvent.ParticipantDisconnected, (participant) => {
      if (mine()) void this.#leave(participant.identity, "participant disconnected");
    });
    lk.on(RoomEvent.ActiveSpeakersChanged, (speakers) => {
      if (mine()) this.#activeSpeakers(speakers);
    });
    lk.on(RoomEvent.Reconnected, () => {
      if (mine()) void this.#flushPending();
    });
    lk.on(RoomEvent.Disconnected, (reason) => {
      if (this.#lk !== lk || this.#stopped) return;
      this.#lk = null;
      void this.#closeLinks("bridge left the LiveKit room");
      const why = DisconnectReason[reason] ?? String(reason);
      const final = finalDisconnect(reason, this.room, this.identity);
      if (final === null) return this.#rejoinLater(why);
      this.#stopped = true;
      this.#problem(final);
      this.#emit({ type: "disconnected", room: this.room, reason: why, retryInMs: null });
    });
  }

  /** Subscribes to a publication the bridge streams; everything else stays unsubscribed. */
  #consider(publication: RemoteTrackPublication, participant: RemoteParticipant): void {
    if (mediaKindOf(publication.source) === null) return;
    if (participant.kind === ParticipantKind.AGENT && !this.#options.includeAgents) return;
    if (!publication.subscribed) publication.setSubscribed(true);
  }

  #subscribed(track: RemoteTrack, publication: RemoteTrackPublication, participant: RemoteParticipant): void {
    const kind = mediaKindOf(publication.source);
    const sid = publication.sid;
    if (kind === null || sid === undefined) {
      publication.setSubscribed(false);
      return;
    }
    const link = this.#links.get(participant.identity) ?? this.#link(participant.identity);
    const failed = (err: Error) => this.#problem(`${link.participantId}: track ${sid} failed: ${err.message}`);
    link.addTrack(sid, kind, track, failed);
  }

  #link(identity: string): ParticipantLink {
    const participantId = participantIdFor(this.roomId, identity);
    const speaking = this.#options.speaking ?? "service";
    const client = createEdgeClient(this.#options.edge, { participantId, roomId: this.roomId, speaking });
    const link = new ParticipantLink(identity, participantId, client, {
      alert: (alert) => this.#onAlert(link, alert),
      ready: () => undefined,
      problem: (message) => this.#problem(message),
    });
    this.#links.set(identity, link);
    if (speaking === "livekit") link.setSpeaking(this.#speaking.has(identity));
    this.#emit({ type: "participant_joined", room: this.room, identity, participantId });
    return link;
  }

  async #leave(identity: string, reason: string): Promise<void> {
    const link = this.#links.get(identity);
    if (!link) return;
    this.#links.delete(identity);
    this.#speaking.delete(identity);
    if (this.#links.size === 0) this.#idleSince = Date.now();
    await link.close(reason);
    this.#emit({ type: "participant_left", room: this.room, identity, participantId: link.participantId });
  }

  async #closeLinks(reason: string): Promise<void> {
    await Promise.all([...this.#links.keys()].map((identity) => this.#leave(identity, reason)));
  }

  #activeSpeakers(speakers: Participant[]): void {
    if ((this.#options.speaking ?? "service") !== "livekit") return;
    const now = new Set(speakers.map((p) => p.identity));
    for (const [identity, link] of this.#links) {
      if (now.has(identity) !== this.#speaking.has(identity)) link.setSpeaking(now.has(identity));
    }
    this.#speaking.clear();
    for (const identity of now) this.#speaking.add(identity);
  }

  #onAlert(link: ParticipantLink, alert: DeepfakeAlert): void {
    const message = liveKitAlert(alert, { identity: link.identity, roomId: this.roomId, trackSid: (id) => id });
    this.#emit({ type: "alert", room: this.room, alert: message });
    void this.#publish(message);
    const action = this.#options.onAlert ?? "none";
    const entered = alert.level === "alert" && alert.previous_level !== "alert";
    if (action !== "none" && entered) void this.#act(link.identity, action);
  }

  async #publish(message: LiveKitAlert): Promise<void> {
    const local = this.#lk?.isConnected ? this.#lk.localParticipant : undefined;
    try {
      if (!local) throw new Error("not in the room");
      await local.publishData(encodeAlert(message), { reliable: true, topic: ALERT_TOPIC });
    } catch {
      this.#pending.push(message);
      if (this.#pending.length > MAX_PENDING_ALERTS) this.#pending.shift();
    }
  }

  async #flushPending(): Promise<void> {
    const pending = this.#pending.splice(0);
    for (const message of pending) await this.#publish(message);
  }

  async #act(identity: string, action: OnAlertAction): Promise<void> {
    const participant = this.#lk?.remoteParticipants.get(identity);
    const sids = [...(participant?.trackPublications.values() ?? [])].flatMap((p) => (p.sid ? [p.sid] : []));
    try {
      this.#service ??= roomService(this.#options.livekit);
      const result = await actOnAlert(this.#service, action, this.room, identity, sids);
      this.#emit({ type: "action", room: this.room, identity, action, result });
    } catch (err) {
      this.#problem(`--on-alert ${action} for ${identity} failed: ${(err as Error).message}`);
    }
  }
}
