/**
 * What the participant's sockets send, and what happens when one leaves (DESIGN §5): parse, hand
 * media to the intake with the connection's own VAD flag and rate, count and answer bad input,
 * close a socket that keeps sending it, and stop the tracks that only a leaving socket fed.
 * Pure: the sockets, the participant and the upstream are injected.
 */
import { MAX_CONSECUTIVE_BAD_MESSAGES, type Config } from "../config/config.js";
import type { Level } from "../detection/state-machine.js";
import { ClientInputError, parseClientMessage } from "../protocol/client-messages.js";
import type { ServerEvent } from "../protocol/events.js";
import { parseSfuPacket } from "../protocol/sfu-packets.js";
import { errorMessage, log } from "../shared/log.js";
import type { ActiveParticipant } from "./active-participant.js";
import { closeQuietly, connectionFps, sendEvent, type AttachableSocket, type ConnectionInfo, type Connections } from "./connections.js";
import type { CounterName } from "./counters.js";
import type { Feed } from "./media-intake.js";

type Socket = AttachableSocket & { send(text: string): void; close(code?: number, reason?: string): void };

export interface SocketMessagesDeps<S extends Socket> {
  config: Config;
  sockets: Connections<S>;
  live(): ActiveParticipant | null;
  /** Media arrived: the upstream must be open. */
  wantUpstream(): void;
  count(name: CounterName, by?: number): void;
  /** Tracks that only a leaving socket fed stop counting. */
  tracksClosed(trackIds: readonly string[], nowMs: number): void;
  /** A socket left; `remaining` are still open. */
  left(remaining: number): void;
}

export class SocketMessages<S extends Socket> {
  constructor(private readonly deps: SocketMessagesDeps<S>) {}

  /** One message from a socket. Never throws: bad input is answered, counted and survived. */
  async receive(ws: S, message: ArrayBuffer | string, nowMs: number): Promise<void> {
    const { config, sockets } = this.deps;
    try {
      this.deps.count("messages_received");
      const live = this.deps.live();
      if (!live) throw new ClientInputError("decode_failed", "this session has ended; reconnect");
      this.deps.wantUpstream();
      let info = sockets.get(ws);
      let fedTrack: string | null;
      if (info.role === "client") {
        const input = parseClientMessage(message, config.maxClientMessageBytes);
        if (input.kind === "hello") info = sockets.update(ws, { client: input.client, vad: input.vad, honorsRate: input.honorsRate });
        else if (input.kind === "speaking") info = sockets.update(ws, { vad: true });
        fedTrack = await live.intake.ingestClientMessage(this.#feed(info, live), input, nowMs);
      } else {
        const packet = parseSfuPacket(message, config.maxClientMessageBytes);
        fedTrack = await live.intake.ingestSfuPacket(this.#feed(info, live), info.role === "sfu-audio" ? "audio" : "video", packet, nowMs);
      }
      sockets.accepted(ws);
      if (fedTrack !== null) sockets.noteTrack(ws, fedTrack);
    } catch (err) {
      this.#reject(ws, err);
    }
  }

  /** The socket closed or failed: flush its utterance, stop the tracks nobody else feeds. */
  gone(ws: S, nowMs: number): void {
    const forgotten = this.deps.sockets.forget(ws);
    if (!forgotten) return;
    const live = this.deps.live();
    if (live) {
      live.intake.endFeed(forgotten.info.id, nowMs);
      for (const trackId of forgotten.orphanedTracks) live.intake.forgetTrack(trackId);
      this.deps.tracksClosed(forgotten.orphanedTracks, nowMs);
    }
    const remaining = this.deps.sockets.live().length;
    log("info", "client left", { participant: live?.participantId, clients: remaining });
    this.deps.left(remaining);
  }

  /** The level moved: each client hears its own new rate (the deployment's, lowered by its override). */
  announceRates(previous: Level, level: Level): void {
    const { config, sockets } = this.deps;
    for (const ws of sockets.live("client")) {
      const info = sockets.get(ws);
      const after = connectionFps(level, config.video, info);
      if (after !== connectionFps(previous, config.video, info)) sendEvent(ws, { type: "rate", video_fps: after } satisfies ServerEvent);
    }
  }

  #feed(info: ConnectionInfo, live: ActiveParticipant): Feed {
    return { connectionId: info.id, clientVad: info.vad ?? false, videoFps: connectionFps(live.detection.level, this.deps.config.video, info) };
  }

  #reject(ws: S, err: unknown): void {
    const { sockets } = this.deps;
    const participant = this.deps.live()?.participantId;
    this.deps.count("bad_messages");
    const known = err instanceof ClientInputError;
    if (!known) log("error", "client message failed", { class: "ParticipantSession", participant, reason: errorMessage(err) });
    if (sockets.role(ws) === "client") {
      sendEvent(ws, { type: "error", code: known ? err.code : "internal", message: known ? err.message : "the message could not be processed" } satisfies ServerEvent);
    }
    const streak = sockets.rejected(ws);
    if (streak < MAX_CONSECUTIVE_BAD_MESSAGES) return;
    log("warn", "closing client after repeated bad messages", { participant, streak });
    closeQuietly(ws, 1008, `${streak} bad messages in a row`);
    this.gone(ws, Date.now());
  }
}
