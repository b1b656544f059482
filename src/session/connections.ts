/**
 * Connection bookkeeping of one participant object: what each socket is, the tracks it feeds, its
 * VAD flag and rate overrides, and its streak of bad messages. Pure: sockets are structural, so it
 * tests in Node.
 *
 * What must survive hibernation (id, role, Hello flags, rate overrides) lives in the socket's small
 * typed attachment, never buffers; the rest is per-isolate memory keyed by the connection id and
 * rebuilt lazily from the attachments after a wake-up.
 */

import type { Level } from "../protocol/levels.js";
import { samplingLevel, type ActiveParticipant } from "./active-participant.js";

/**
 * What a socket is: a participant client (ingest + events) or a Realtime SFU adapter feed (protobuf
 * Packets, no events). Also stored as the socket's hibernation tag.
 */
export type SocketRole = "client" | "sfu-video" | "sfu-audio";
export const SOCKET_ROLES: readonly SocketRole[] = ["client", "sfu-video", "sfu-audio"];

const ROLE_BY_PATH: ReadonlyArray<[string, SocketRole]> = [
  ["/stream", "client"],
  ["/sfu/video", "sfu-video"],
  ["/sfu/audio", "sfu-audio"],
];

/** The socket role an upgrade path asks for (`…/stream`, `…/sfu/video`, `…/sfu/audio`), or undefined. */
export function roleForPath(path: string): SocketRole | undefined {
  return ROLE_BY_PATH.find(([suffix]) => path.endsWith(suffix))?.[1];
}

/** Per-connection video rates (`?normal_fps=&burst_fps=`): each only ever lowers the deployment's. */
export interface RateOverrides {
  normalFps?: number;
  burstFps?: number;
}

/** The socket attachment: ids and flags only. */
export interface ConnectionInfo extends RateOverrides {
  id: string;
  role: SocketRole;
  joinedAtMs: number;
  client?: string;
  /** True once the socket said Hello{vad: true} or sent a Speaking message. */
  vad?: boolean;
  honorsRate?: boolean;
}

/** The part of a hibernatable WebSocket this module uses. */
export interface AttachableSocket {
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

/** The object's view of its hibernatable sockets (structural: satisfied by DurableObjectState). */
export interface SocketHost<S> {
  getWebSockets(tag?: string): S[];
  getTags(ws: S): string[];
}

export class Connections<S extends AttachableSocket & { send(text: string): void }> {
  readonly #info = new Map<S, ConnectionInfo>();
  /** Tracks each connection has fed, so they stop counting when it leaves. */
  readonly #tracks = new Map<string, Set<string>>();
  readonly #badStreak = new Map<string, number>();
  /** Sockets already forgotten while the runtime still lists them (closing). */
  readonly #gone = new WeakSet<S>();

  constructor(
    private readonly host: SocketHost<S>,
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {}

  /** The role a socket was accepted with (its hibernation tag). */
  role(ws: S): SocketRole {
    return this.host.getTags(ws).find((t): t is SocketRole => SOCKET_ROLES.includes(t as SocketRole)) ?? "client";
  }

  /**
   * True once the socket was forgotten (closed by this object, or gone) while the runtime may still
   * deliver its messages.
   */
  isGone(ws: S): boolean {
    return this.#gone.has(ws);
  }

  /** Open sockets, not counting those already forgotten; `tag` filters by role. */
  live(tag?: SocketRole): S[] {
    return this.host.getWebSockets(tag).filter((ws) => !this.#gone.has(ws));
  }

  /** Events go to participant clients only: SFU adapter feeds speak protobuf Packets. */
  broadcast(event: unknown): void {
    const text = JSON.stringify(event);
    for (const ws of this.live("client")) sendEvent(ws, text);
  }

  /** A new socket: writes its attachment. */
  attach(ws: S, role: SocketRole, nowMs: number, overrides: RateOverrides = {}): ConnectionInfo {
    const info: ConnectionInfo = { id: this.newId(), role, joinedAtMs: nowMs, ...definedOnly(overrides) };
    ws.serializeAttachment(info);
    this.#info.set(ws, info);
    return info;
  }

  /** The socket's info, read from its attachment once per isolate (after hibernation, lazily). */
  get(ws: S): ConnectionInfo {
    let info = this.#info.get(ws);
    if (!info) {
      const stored = ws.deserializeAttachment() as Partial<ConnectionInfo> | null;
      info = {
        role: this.role(ws),
        joinedAtMs: 0,
        ...(stored ?? {}),
        id: typeof stored?.id === "string" ? stored.id : this.newId(),
      } as ConnectionInfo;
      if (!stored?.id) ws.serializeAttachment(info);
      this.#info.set(ws, info);
    }
    return info;
  }

  /** Changes flags of the socket; the attachment is rewritten only when something changed. */
  update(ws: S, patch: Partial<Pick<ConnectionInfo, "client" | "vad" | "honorsRate">>): ConnectionInfo {
    const info = this.get(ws);
    const changed = (Object.keys(patch) as Array<keyof typeof patch>).some((key) => info[key] !== patch[key]);
    if (!changed) return info;
    const next = { ...info, ...patch };
    ws.serializeAttachment(next);
    this.#info.set(ws, next);
    return next;
  }

  noteTrack(ws: S, trackId: string): void {
    const { id } = this.get(ws);
    let tracks = this.#tracks.get(id);
    if (!tracks) this.#tracks.set(id, (tracks = new Set()));
    tracks.add(trackId);
  }

  /** A good message resets the socket's bad streak. */
  accepted(ws: S): void {
    this.#badStreak.delete(this.get(ws).id);
  }

  /** A rejected message: returns the socket's streak of bad messages in a row. */
  rejected(ws: S): number {
    const { id } = this.get(ws);
    const streak = (this.#badStreak.get(id) ?? 0) + 1;
    this.#badStreak.set(id, streak);
    return streak;
  }

  /**
   * The socket is gone: forgets it and returns its info and the tracks that no other live
   * connection still feeds (those stop counting).
   */
  forget(ws: S): { info: ConnectionInfo; orphanedTracks: string[] } | null {
    if (this.#gone.has(ws)) return null;
    this.#gone.add(ws);
    const info = this.get(ws);
    this.#info.delete(ws);
    this.#badStreak.delete(info.id);
    const tracks = this.#tracks.get(info.id) ?? new Set<string>();
    this.#tracks.delete(info.id);
    const stillFed = new Set<string>();
    for (const set of this.#tracks.values()) for (const trackId of set) stillFed.add(trackId);
    return { info, orphanedTracks: [...tracks].filter((trackId) => !stillFed.has(trackId)) };
  }

  clear(): void {
    this.#info.clear();
    this.#tracks.clear();
    this.#badStreak.clear();
  }
}

/** The `ready` event for a new client socket: its participant's state and this connection's rates. */
export function readyEvent(
  participantId: string,
  /** The participant's level, or the participant (its rate is the burst rate while an on-demand check runs). */
  state: Level | Pick<ActiveParticipant, "detection" | "checking">,
  config: {
    video: { normalFps: number; burstFps: number; jpegQuality: number };
    audioIntervalMs: number;
    simulated: boolean;
    devMode: boolean;
  },
  own: RateOverrides,
  /** The participant's room (docs/DESIGN.md §12), or null. */
  roomId: string | null = null,
) {
  const level = typeof state === "string" ? state : state.detection.level;
  const rateLevel = typeof state === "string" ? state : samplingLevel(state);
  return {
    type: "ready" as const,
    participant_id: participantId,
    room_id: roomId,
    level,
    video_fps: connectionFps(rateLevel, config.video, own),
    normal_fps: connectionFps("clear", config.video, own),
    burst_fps: connectionFps("suspicious", config.video, own),
    simulated: config.simulated,
    dev_mode: config.devMode,
    jpeg_quality: config.video.jpegQuality,
    audio_interval_s: config.audioIntervalMs / 1000,
    ...(config.simulated
      ? { notice: "SIMULATED RESULTS: no DATASPIKE_API_KEY is set, a local simulator answers" }
      : {}),
  };
}

/** The video rate for one connection at a level: the deployment's, lowered by the connection's override. */
export function connectionFps(
  level: "clear" | "suspicious" | "alert",
  deployment: { normalFps: number; burstFps: number },
  own: RateOverrides,
): number {
  return level === "suspicious"
    ? Math.min(deployment.burstFps, own.burstFps ?? Infinity)
    : Math.min(deployment.normalFps, own.normalFps ?? Infinity);
}

/**
 * Parses `?normal_fps=&burst_fps=` from a stream URL: each, when present, a number from 0 to the
 * deployment's value. Returns the overrides, or a message naming the bad parameter.
 */
export function parseRateOverrides(
  params: URLSearchParams,
  deployment: { normalFps: number; burstFps: number },
): { ok: true; value: RateOverrides } | { ok: false; message: string } {
  const value: RateOverrides = {};
  for (const [param, key, max] of [
    ["normal_fps", "normalFps", deployment.normalFps],
    ["burst_fps", "burstFps", deployment.burstFps],
  ] as const) {
    const raw = params.get(param);
    if (raw === null) continue;
    const fps = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(fps) || fps < 0 || fps > max) {
      return {
        ok: false,
        message:
          `${param} must be a number from 0 to ${max} (the deployment's rate; a connection can only lower ` +
          `it), got ${JSON.stringify(raw.slice(0, 32))}`,
      };
    }
    value[key] = fps;
  }
  return { ok: true, value };
}

function definedOnly(overrides: RateOverrides): RateOverrides {
  const out: RateOverrides = {};
  if (overrides.normalFps !== undefined) out.normalFps = overrides.normalFps;
  if (overrides.burstFps !== undefined) out.burstFps = overrides.burstFps;
  return out;
}

/** Sends one JSON event; a socket that is closing is skipped (its close handler cleans up). */
export function sendEvent(ws: { send(text: string): void }, event: unknown): void {
  try {
    ws.send(typeof event === "string" ? event : JSON.stringify(event));
  } catch {
    // closing socket
  }
}

/** Closes a socket, ignoring one that is already closed. */
export function closeQuietly(ws: { close(code?: number, reason?: string): void }, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // already closed
  }
}
