/**
 * What the participant's sockets send, and what happens when one leaves (docs/DESIGN.md §5.3, §5.5):
 * hold each message to its socket's budget and to the one all the participant's sockets share
 * (./budget.ts) before parsing it, parse, hand media to the intake
 * with the connection's own VAD flag and rate, count and answer bad input, close a socket that keeps
 * sending it or keeps over its budget, tell a client when its speech is (not) wanted (the `audio`
 * hint), and stop the tracks that only a leaving socket fed.
 * Pure: the sockets, the participant and the upstream are injected.
 */
import type { Config } from "../config/config.js";
import {
  MAX_CONSECUTIVE_BAD_MESSAGES,
  POLICY_CLOSE_COOLDOWN_MS,
  SFU_AUDIO_CHANNELS,
  SFU_AUDIO_SAMPLE_RATE_HZ,
} from "../config/limits.js";
import { validatePcmFrame } from "../protocol/audio-frames.js";
import type { Level } from "../protocol/levels.js";
import { ClientInputError, parseClientMessage } from "../protocol/client-messages.js";
import type { ServerEvent } from "../protocol/events.js";
import { parseSfuPacket } from "../protocol/sfu-packets.js";
import { errorMessage, log } from "../shared/log.js";
import { samplingLevel, type ActiveParticipant } from "./active-participant.js";
import {
  DEFAULT_BUDGET,
  ParticipantBudget,
  SocketBudget,
  audioSeconds,
  encodeBudgetFor,
  type BudgetLimits,
  type Refusal,
} from "./budget.js";
import {
  closeQuietly,
  connectionFps,
  sendEvent,
  type AttachableSocket,
  type ConnectionInfo,
  type Connections,
} from "./connections.js";
import type { CounterName } from "./counters.js";
import { SFU_AUDIO_TRACK, type Feed } from "./media-intake.js";

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
  left(remaining: number, gone: ConnectionInfo): void;
  /**
   * A client's Check message (docs/DESIGN.md §13): starts or joins the participant's check; returns an
   * event for this socket only (the running check's start, when it joined), or throws ClientInputError
   * when refused.
   */
  check?(durationS: number, nowMs: number): ServerEvent | null;
  /**
   * Per-socket budgets (the participant's sockets together get one socket's worth); by default those
   * of config/limits.ts, the encode budget from the deployment's video settings.
   */
  budget?: BudgetLimits;
}

export class SocketMessages<S extends Socket> {
  /** One budget per connection id, in memory (a woken object starts every socket afresh). */
  readonly #budgets = new Map<string, SocketBudget>();
  /** What all the participant's sockets share (in memory too: reconnecting buys no fresh one). */
  #participant: ParticipantBudget | null = null;
  /** New sockets are refused until then: a socket of this participant was closed for policy. */
  #cooldownUntilMs = 0;

  readonly #limits: BudgetLimits;

  constructor(private readonly deps: SocketMessagesDeps<S>) {
    this.#limits = deps.budget ?? { ...DEFAULT_BUDGET, ...encodeBudgetFor(deps.config.video) };
  }

  /** One message from a socket. Never throws: bad input is answered, counted and survived. */
  async receive(ws: S, message: ArrayBuffer | string, nowMs: number): Promise<void> {
    const { config, sockets } = this.deps;
    // Messages still in flight from a socket this object closed (for policy) cost nothing more: no
    // parsing, no events, no log line each (a flood would otherwise log one line per message).
    if (sockets.isGone(ws)) return;
    try {
      this.deps.count("messages_received");
      let info = sockets.get(ws);
      const budget = this.#budgetOf(info, nowMs);
      // Before any parsing: a flood costs a byte count and two bucket updates per message.
      const over = budget.admitMessage(typeof message === "string" ? message.length * 3 : message.byteLength, nowMs);
      if (over) return this.#overBudget(ws, over);
      const live = this.deps.live();
      if (!live) throw new ClientInputError("decode_failed", "this session has ended; reconnect");
      let fedTrack: string | null;
      if (info.role === "client") {
        const input = parseClientMessage(message, config.maxClientMessageBytes);
        // Audio is checked (cheaply) before it is held to the audio clock: a malformed frame is
        // bad_audio, not over budget.
        if (input.kind === "audio") validatePcmFrame(input);
        const audio =
          input.kind === "audio" &&
          budget.admitAudio(
            input.trackId,
            audioSeconds(input.data.byteLength, input.sampleRate, input.channels),
            nowMs,
          );
        if (audio) return this.#overBudget(ws, audio);
        this.deps.wantUpstream();
        if (input.kind === "hello")
          info = sockets.update(ws, { client: input.client, vad: input.vad, honorsRate: input.honorsRate });
        else if (input.kind === "speaking") info = sockets.update(ws, { vad: true });
        else if (input.kind === "check") this.#check(ws, input.durationS, nowMs);
        fedTrack = await live.intake.ingestClientMessage(this.#feed(info, live, budget), input, nowMs);
      } else {
        const packet = parseSfuPacket(message, config.maxClientMessageBytes);
        const kind = info.role === "sfu-audio" ? "audio" : "video";
        const audio =
          kind === "audio" &&
          budget.admitAudio(
            SFU_AUDIO_TRACK,
            audioSeconds(packet.payload.byteLength, SFU_AUDIO_SAMPLE_RATE_HZ, SFU_AUDIO_CHANNELS),
            nowMs,
          );
        if (audio) return this.#overBudget(ws, audio);
        this.deps.wantUpstream();
        fedTrack = await live.intake.ingestSfuPacket(this.#feed(info, live, budget), kind, packet, nowMs);
      }
      sockets.accepted(ws);
      if (fedTrack !== null) sockets.noteTrack(ws, fedTrack);
      const hint = info.role === "client" ? live.intake.audioHint(info.id, nowMs) : null;
      if (hint) sendEvent(ws, hint);
    } catch (err) {
      this.#reject(ws, err);
    }
  }

  /** The session was purged: every budget and the cooldown go with it. */
  reset(): void {
    this.#budgets.clear();
    this.#participant = null;
    this.#cooldownUntilMs = 0;
  }

  /** Why a new socket is refused now (a socket of this participant was closed for policy moments ago), or null. */
  cooldown(nowMs: number): string | null {
    if (nowMs >= this.#cooldownUntilMs) return null;
    return (
      `a socket of this participant was closed for sending too much or too many bad messages; retry in ` +
      `${Math.ceil((this.#cooldownUntilMs - nowMs) / 1000)} s`
    );
  }

  /** The socket closed or failed: flush its utterance, stop the tracks nobody else feeds. */
  gone(ws: S, nowMs: number): void {
    const forgotten = this.deps.sockets.forget(ws);
    if (!forgotten) return;
    this.#budgets.delete(forgotten.info.id);
    const live = this.deps.live();
    if (live) {
      live.intake.endFeed(forgotten.info.id, nowMs);
      for (const trackId of forgotten.orphanedTracks) live.intake.forgetTrack(trackId);
      this.deps.tracksClosed(forgotten.orphanedTracks, nowMs);
    }
    const remaining = this.deps.sockets.live().length;
    log("info", "client left", { participant: live?.participantId, clients: remaining });
    this.deps.left(remaining, forgotten.info);
  }

  /** The level moved: each client hears its own new rate (the deployment's, lowered by its override). */
  announceRates(previous: Level, level: Level): void {
    const { config, sockets } = this.deps;
    for (const ws of sockets.live("client")) {
      const info = sockets.get(ws);
      const after = connectionFps(level, config.video, info);
      if (after !== connectionFps(previous, config.video, info))
        sendEvent(ws, { type: "rate", video_fps: after } satisfies ServerEvent);
    }
  }

  /** A check started or ended: each client whose `audio` hint changed hears it now, not at its next message. */
  announceAudioHints(nowMs: number): void {
    const live = this.deps.live();
    if (!live) return;
    for (const ws of this.deps.sockets.live("client")) {
      const hint = live.intake.audioHint(this.deps.sockets.get(ws).id, nowMs);
      if (hint) sendEvent(ws, hint);
    }
  }

  #check(ws: S, durationS: number, nowMs: number): void {
    if (!this.deps.check) throw new ClientInputError("bad_check", "this service does not run on-demand checks");
    const own = this.deps.check(durationS, nowMs);
    if (own) sendEvent(ws, own);
  }

  #feed(info: ConnectionInfo, live: ActiveParticipant, budget: SocketBudget): Feed {
    const videoFps = connectionFps(samplingLevel(live, live.detection.level), this.deps.config.video, info);
    return { connectionId: info.id, clientVad: info.vad ?? false, videoFps, encodeBudget: budget.encode };
  }

  #budgetOf(info: ConnectionInfo, nowMs: number): SocketBudget {
    let budget = this.#budgets.get(info.id);
    if (!budget) {
      this.#participant ??= new ParticipantBudget(nowMs, this.#limits);
      // Judged from when the socket opened: it cannot have sent anything before.
      this.#budgets.set(info.id, (budget = new SocketBudget(nowMs, this.#limits, this.#participant, info.joinedAtMs)));
    }
    return budget;
  }

  /**
   * A message over the socket's budget: dropped unparsed and counted, answered with `rate_limited`
   * (a few per second at most), and the socket closed with 1008 if it keeps on. It neither
   * lengthens nor resets the socket's streak of bad messages, and touches no other socket.
   */
  #overBudget(ws: S, over: Refusal): void {
    this.deps.count("rate_limited");
    if (over.notify && this.deps.sockets.role(ws) === "client") {
      sendEvent(ws, {
        type: "error",
        code: "rate_limited",
        message: `message dropped: ${over.message}`,
      } satisfies ServerEvent);
    }
    if (!over.close) return;
    log("warn", "closing client that stays over its budget", {
      participant: this.deps.live()?.participantId,
      budget: over.kind,
      scope: over.scope,
    });
    this.#policyClose(ws, `over the ${over.kind} budget`);
  }

  #reject(ws: S, err: unknown): void {
    const { sockets } = this.deps;
    const participant = this.deps.live()?.participantId;
    this.deps.count("bad_messages");
    const known = err instanceof ClientInputError;
    if (!known)
      log("error", "client message failed", { class: "ParticipantSession", participant, reason: errorMessage(err) });
    if (sockets.role(ws) === "client") {
      sendEvent(ws, {
        type: "error",
        code: known ? err.code : "internal",
        message: known ? err.message : "the message could not be processed",
      } satisfies ServerEvent);
    }
    const streak = sockets.rejected(ws);
    if (streak < MAX_CONSECUTIVE_BAD_MESSAGES) return;
    log("warn", "closing client after repeated bad messages", { participant, streak });
    this.#policyClose(ws, `${streak} bad messages in a row`);
  }

  /** Closes with 1008 and refuses new sockets of the participant for POLICY_CLOSE_COOLDOWN_MS. */
  #policyClose(ws: S, reason: string): void {
    const nowMs = Date.now();
    this.#cooldownUntilMs = nowMs + POLICY_CLOSE_COOLDOWN_MS;
    closeQuietly(ws, 1008, reason);
    this.gone(ws, nowMs);
  }
}
