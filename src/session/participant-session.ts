/**
 * ParticipantSession: one Durable Object per participant. A thin shell that wires client sockets
 * (hibernation API), the upstream link, storage and timers to the pure modules:
 *   client-messages -> video-ingest -> codec -> upstream link (queue + backoff)
 *   upstream results -> detection state machine -> store (one transaction) -> client events
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import {
  COUNTERS_FLUSH_MS,
  MAX_CLIENTS_PER_PARTICIPANT,
  MAX_CONSECUTIVE_BAD_MESSAGES,
  MAX_VIDEO_TRACKS,
  SAMPLER_TOLERANCE_RATIO,
  TRACK_TTL_MS,
  UPSTREAM_CONNECT_TIMEOUT_MS,
  UPSTREAM_HEALTHY_AFTER_MS,
  parseConfig,
  upgradeUrl,
  type Config,
} from "../config.js";
import { DetectionState, type Level } from "../detection/state-machine.js";
import { AudioIngest, type AudioChunk } from "../media/audio/audio-ingest.js";
import { AudioError } from "../media/audio/pcm.js";
import { encodeJpeg } from "../media/jpeg.js";
import { VideoIngest } from "../media/video-ingest.js";
import { Backoff } from "../upstream/backoff.js";
import { FrameFormat, decodeResultEvent, encodeFrameRequest } from "../upstream/codec.js";
import { UpstreamLink, type UpstreamSocket } from "../upstream/connection.js";
import { SendQueue } from "../upstream/send-queue.js";
import { errorMessage, log } from "../log.js";
import { ClientInputError, parseClientMessage, type ClientInput } from "./client-messages.js";
import { newEventId, type DeepfakeAlert, type ServerEvent } from "./events.js";
import { parseSfuPacket, sfuPcmFrame } from "./sfu-packets.js";
import { SessionStore } from "./store.js";

/** Header the router uses to tell the object which participant it serves. */
export const PARTICIPANT_HEADER = "x-participant-id";

/**
 * What a socket is: a participant client (ingest + events) or a Realtime SFU adapter feed (protobuf
 * Packets, no events). Stored as the socket's hibernation tag.
 */
type SocketRole = "client" | "sfu-video" | "sfu-audio";
const SOCKET_ROLES: readonly SocketRole[] = ["client", "sfu-video", "sfu-audio"];
/** Track ids used for SFU adapter feeds (the adapter carries none). */
const SFU_VIDEO_TRACK = "sfu-video";
const SFU_AUDIO_TRACK = "sfu-audio";

/** Small, typed socket attachment: ids and flags only, never buffers. */
interface ClientAttachment {
  role: SocketRole;
  joinedAtMs: number;
  client?: string;
  vad?: boolean;
  honorsRate?: boolean;
}

const COUNTER_NAMES = [
  "messages_received",
  "frames_received",
  "frames_sampled",
  "audio_frames_received",
  "audio_chunks_sent",
  "frames_skipped",
  "screen_frames_dropped",
  "messages_sent",
  "dropped_by_queue",
  "bad_messages",
  "results",
  "results_unknown",
  "upstream_errors",
  "upstream_undecodable",
  "upstream_connects",
  "events",
] as const;
type CounterName = (typeof COUNTER_NAMES)[number];

export class ParticipantSession extends DurableObject<Env> {
  readonly #config: Config;
  readonly #store: SessionStore;
  readonly #detection: DetectionState;
  readonly #video: VideoIngest;
  /** Client audio (trusts Speaking markers when the client sends them) and SFU audio (built-in gate). */
  readonly #audio: AudioIngest;
  readonly #sfuAudio: AudioIngest;
  readonly #link: UpstreamLink;
  readonly #counters: Record<CounterName, number>;
  #participantId: string | null;
  #sinceMs: number;
  #countersDirty = false;
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** Tracks each live socket has fed, so they stop counting when it leaves. In memory only. */
  readonly #socketTracks = new Map<WebSocket, Set<string>>();
  readonly #badStreak = new Map<WebSocket, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = parseConfig(env);
    this.#store = new SessionStore(ctx.storage.sql);
    this.#store.migrate();
    const row = this.#store.loadParticipant();
    this.#participantId = row?.participantId ?? null;
    this.#sinceMs = row?.sinceMs ?? Date.now();
    const stored = this.#store.loadCounters();
    this.#counters = Object.fromEntries(COUNTER_NAMES.map((name) => [name, stored[name] ?? 0])) as Record<CounterName, number>;
    this.#detection = new DetectionState({ initialLevel: row?.level ?? "clear", trackTtlMs: TRACK_TTL_MS });
    const video = this.#config.video;
    this.#video = new VideoIngest({
      fps: this.#fpsFor(this.#detection.level),
      jpegQuality: video.jpegQuality,
      limits: { maxWidth: video.maxWidth, maxHeight: video.maxHeight, maxPixels: video.maxWidth * video.maxHeight },
      toleranceRatio: SAMPLER_TOLERANCE_RATIO,
      maxTracks: MAX_VIDEO_TRACKS,
      encode: encodeJpeg,
    });
    this.#audio = new AudioIngest({ intervalMs: this.#config.audioIntervalMs });
    this.#sfuAudio = new AudioIngest({ intervalMs: this.#config.audioIntervalMs });
    this.#link = new UpstreamLink({
      connect: () => this.#connectUpstream(),
      backoff: new Backoff(this.#config.reconnect),
      queue: new SendQueue<Uint8Array>(this.#config.queueMaxItems),
      healthyAfterMs: UPSTREAM_HEALTHY_AFTER_MS,
      connectTimeoutMs: UPSTREAM_CONNECT_TIMEOUT_MS,
      hooks: {
        connected: () => {
          this.#count("upstream_connects");
          log("info", "upstream connected", { participant: this.#participantId, simulated: this.#config.simulated });
          this.#broadcast({ type: "upstream", status: "connected" });
        },
        reconnecting: (retryInMs, reason) => {
          log("warn", "upstream reconnecting", { participant: this.#participantId, retry_in_ms: Math.round(retryInMs), reason });
          this.#broadcast({ type: "upstream", status: "reconnecting", retry_in_ms: Math.round(retryInMs) });
        },
        message: (data) => this.#onUpstreamMessage(data),
        dropped: (count) => this.#count("dropped_by_queue", count),
        sent: () => this.#count("messages_sent"),
      },
    });
    // After hibernation the sockets are still there: keep the upstream open for them.
    if (this.#clients().length > 0 && this.#participantId) this.#link.start();
  }

  override async fetch(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const participantId = request.headers.get(PARTICIPANT_HEADER);
      if (participantId) this.#adoptParticipant(participantId);
      if (url.pathname === "/stream") return this.#accept(request, "client");
      if (url.pathname === "/sfu/video") return this.#accept(request, "sfu-video");
      if (url.pathname === "/sfu/audio") return this.#accept(request, "sfu-audio");
      if (url.pathname === "/snapshot" && request.method === "GET") return Response.json(this.#snapshot());
      return Response.json({ error: "not_found", message: `no such object route ${url.pathname}` }, { status: 404 });
    } catch (err) {
      log("error", "participant fetch failed", { class: "ParticipantSession", participant: this.#participantId, reason: errorMessage(err) });
      return Response.json({ error: "internal", message: "internal error" }, { status: 500 });
    }
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    try {
      this.#count("messages_received");
      if (this.#participantId) this.#link.start();
      const role = this.#role(ws);
      if (role === "client") {
        const input = parseClientMessage(message);
        this.#badStreak.delete(ws);
        await this.#handle(ws, input);
      } else {
        await this.#handleSfu(ws, role, message);
      }
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
    log("warn", "client socket error", { participant: this.#participantId, reason: errorMessage(error) });
    this.#forgetSocket(ws);
  }

  // ---- clients ------------------------------------------------------------------------------

  #accept(request: Request, role: SocketRole): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ error: "upgrade_required", message: "expected a WebSocket upgrade" }, { status: 426 });
    }
    if (!this.#participantId) {
      return Response.json({ error: "bad_request", message: "participant id missing" }, { status: 400 });
    }
    if (this.#clients().length >= MAX_CLIENTS_PER_PARTICIPANT) {
      return Response.json(
        { error: "too_many_clients", message: `at most ${MAX_CLIENTS_PER_PARTICIPANT} sockets per participant` },
        { status: 429 },
      );
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [role]);
    server.serializeAttachment({ role, joinedAtMs: Date.now() } satisfies ClientAttachment);
    this.#cancelIdleClose();
    this.#link.start();
    log("info", "client joined", { participant: this.#participantId, role, clients: this.#clients().length, simulated: this.#config.simulated });
    if (role !== "client") return new Response(null, { status: 101, webSocket: client });
    this.#send(server, {
      type: "ready",
      participant_id: this.#participantId,
      level: this.#detection.level,
      video_fps: this.#video.fps,
      simulated: this.#config.simulated,
      dev_mode: this.#config.devMode,
      ...(this.#config.simulated ? { notice: "SIMULATED RESULTS: no DATASPIKE_API_KEY is set, a local simulator answers" } : {}),
    });
    if (this.#link.status === "connected") this.#send(server, { type: "upstream", status: "connected" });
    return new Response(null, { status: 101, webSocket: client });
  }

  async #handle(ws: WebSocket, input: ClientInput): Promise<void> {
    switch (input.kind) {
      case "hello": {
        const attachment = (ws.deserializeAttachment() ?? { role: "client", joinedAtMs: Date.now() }) as ClientAttachment;
        ws.serializeAttachment({ ...attachment, client: input.client, vad: input.vad, honorsRate: input.honorsRate } satisfies ClientAttachment);
        return this.#sendAudio(this.#audio.setClientVad(input.vad, Date.now()));
      }
      case "video": {
        this.#count("frames_received");
        const now = Date.now();
        const outcome = await this.#video.process(input, now);
        if (outcome.kind === "screen") return this.#count("screen_frames_dropped");
        if (outcome.kind === "skipped") return this.#count("frames_skipped");
        this.#count("frames_sampled");
        this.#noteTrack(ws, outcome.trackId, now);
        this.#link.send(
          encodeFrameRequest({
            participantId: this.#participantId!,
            trackId: outcome.trackId,
            timestampMs: input.timestampMs > 0 ? input.timestampMs : now,
            format: FrameFormat.JPEG,
            data: outcome.data,
          }),
        );
        return;
      }
      case "audio": {
        this.#count("audio_frames_received");
        const now = Date.now();
        const chunks = this.#audioFrame(this.#audio, input, now);
        this.#noteTrack(ws, input.trackId, now);
        return this.#sendAudio(chunks);
      }
      case "speaking":
        return this.#sendAudio(this.#audio.speaking(input.speaking, Date.now()));
    }
  }

  /** A Realtime SFU adapter message: a Packet whose payload is a JPEG (video) or 48 kHz stereo PCM (audio). */
  async #handleSfu(ws: WebSocket, role: "sfu-video" | "sfu-audio", message: ArrayBuffer | string): Promise<void> {
    const packet = parseSfuPacket(message);
    this.#badStreak.delete(ws);
    const now = Date.now();
    if (role === "sfu-audio") {
      this.#count("audio_frames_received");
      const chunks = this.#audioFrame(this.#sfuAudio, sfuPcmFrame(packet, SFU_AUDIO_TRACK), now);
      this.#noteTrack(ws, SFU_AUDIO_TRACK, now);
      return this.#sendAudio(chunks);
    }
    await this.#handle(ws, {
      kind: "video",
      trackId: SFU_VIDEO_TRACK,
      width: 0,
      height: 0,
      format: "JPEG",
      source: "camera",
      timestampMs: now,
      data: packet.payload,
    });
  }

  #audioFrame(ingest: AudioIngest, frame: { trackId: string; sampleRate: number; channels: number; data: Uint8Array }, nowMs: number): AudioChunk[] {
    try {
      return ingest.pushFrame(frame, nowMs);
    } catch (err) {
      if (err instanceof AudioError) throw new ClientInputError("bad_audio", err.message);
      throw err;
    }
  }

  #sendAudio(chunks: AudioChunk[]): void {
    const now = Date.now();
    for (const chunk of chunks) {
      this.#count("audio_chunks_sent");
      this.#link.send(
        encodeFrameRequest({ participantId: this.#participantId!, trackId: chunk.trackId, timestampMs: now, format: FrameFormat.PCM, data: chunk.pcm }),
      );
    }
  }

  #role(ws: WebSocket): SocketRole {
    const tag = this.ctx.getTags(ws).find((t): t is SocketRole => SOCKET_ROLES.includes(t as SocketRole));
    return tag ?? "client";
  }

  #reject(ws: WebSocket, err: unknown): void {
    this.#count("bad_messages");
    if (err instanceof ClientInputError) {
      this.#send(ws, { type: "error", code: err.code, message: err.message });
    } else {
      log("error", "client message failed", { class: "ParticipantSession", participant: this.#participantId, reason: errorMessage(err) });
      this.#send(ws, { type: "error", code: "internal", message: "the message could not be processed" });
    }
    const streak = (this.#badStreak.get(ws) ?? 0) + 1;
    this.#badStreak.set(ws, streak);
    if (streak >= MAX_CONSECUTIVE_BAD_MESSAGES) {
      log("warn", "closing client after repeated bad messages", { participant: this.#participantId, streak });
      try {
        ws.close(1008, `${streak} bad messages in a row`);
      } catch {
        // already closed
      }
      this.#forgetSocket(ws);
    }
  }

  #noteTrack(ws: WebSocket, trackId: string, nowMs: number): void {
    this.#detection.touchTrack(trackId, nowMs);
    let tracks = this.#socketTracks.get(ws);
    if (!tracks) this.#socketTracks.set(ws, (tracks = new Set()));
    tracks.add(trackId);
  }

  #forgetSocket(ws: WebSocket): void {
    this.#badStreak.delete(ws);
    const tracks = this.#socketTracks.get(ws);
    this.#socketTracks.delete(ws);
    const stillFed = new Set([...this.#socketTracks.values()].flatMap((set) => [...set]));
    // An utterance in progress when its socket leaves is still sent (padded, if >= 1 s).
    const role = this.#role(ws);
    if (tracks && role !== "sfu-video") this.#sendAudio((role === "sfu-audio" ? this.#sfuAudio : this.#audio).flush(Date.now()));
    for (const trackId of tracks ?? []) {
      if (stillFed.has(trackId)) continue;
      this.#detection.closeTrack(trackId);
      this.#video.forgetTrack(trackId);
      this.#audio.forgetTrack(trackId);
      this.#sfuAudio.forgetTrack(trackId);
    }
    const remaining = this.#clients().filter((socket) => socket !== ws).length;
    log("info", "client left", { participant: this.#participantId, clients: remaining });
    if (remaining === 0) this.#scheduleIdleClose();
  }

  /** Every live socket of this participant: clients and SFU adapter feeds. */
  #clients(): WebSocket[] {
    return this.ctx.getWebSockets();
  }

  #send(ws: WebSocket, event: ServerEvent): void {
    try {
      ws.send(JSON.stringify(event));
    } catch {
      // The socket is closing; its close handler cleans up.
    }
  }

  #broadcast(event: ServerEvent): void {
    const text = JSON.stringify(event);
    // SFU adapter feeds speak protobuf Packets only; events go to participant clients.
    for (const ws of this.ctx.getWebSockets("client")) {
      try {
        ws.send(text);
      } catch {
        // closing socket
      }
    }
  }

  // ---- upstream -----------------------------------------------------------------------------

  async #connectUpstream(): Promise<UpstreamSocket> {
    const participantId = this.#participantId!;
    const headers = { Upgrade: "websocket", Authorization: `Bearer ${this.#config.dataspikeApiKey}` };
    let response: Response;
    if (this.#config.simulated) {
      const simulator = this.env.UPSTREAM_SIMULATOR.get(this.env.UPSTREAM_SIMULATOR.idFromName(participantId));
      response = await simulator.fetch(`https://simulator.internal/stream?participant=${encodeURIComponent(participantId)}`, { headers });
    } else {
      response = await fetch(upgradeUrl(this.#config.dataspikeWsUrl), { headers });
    }
    const socket = response.webSocket;
    if (!socket) {
      const detail = (await response.text().catch(() => "")).slice(0, 200);
      throw new Error(`upgrade refused with HTTP ${response.status}${detail ? `: ${detail}` : ""}`);
    }
    socket.accept();
    // Binary messages would otherwise arrive as Blob on current compatibility dates.
    (socket as WebSocket & { binaryType: string }).binaryType = "arraybuffer";
    return socket;
  }

  #onUpstreamMessage(data: ArrayBuffer): void {
    try {
      let result;
      try {
        result = decodeResultEvent(new Uint8Array(data));
      } catch (err) {
        this.#count("upstream_undecodable");
        log("warn", "skipped an undecodable upstream message", { participant: this.#participantId, bytes: data.byteLength, reason: errorMessage(err) });
        return;
      }
      const now = Date.now();
      const trackId = result.trackId || "unknown";
      const outcome = this.#detection.applyResult(result.kind, trackId, result.message, now);
      switch (outcome.kind) {
        case "transition":
          this.#count("results");
          return this.#applyTransition(outcome.transition.previous, outcome.transition.level, trackId, result.message, now);
        case "unchanged":
          return this.#count("results");
        case "error":
          this.#count("upstream_errors");
          log("warn", "upstream reported an error", { participant: this.#participantId, track: trackId, message: result.message.slice(0, 500) });
          return this.#broadcast({ type: "upstream_error", track_id: trackId, message: result.message });
        case "unknown":
          return this.#count("results_unknown");
      }
    } catch (err) {
      log("error", "upstream result failed", { class: "ParticipantSession", participant: this.#participantId, reason: errorMessage(err) });
    }
  }

  #applyTransition(previous: Level, level: Level, trackId: string, message: string, nowMs: number): void {
    const alert: DeepfakeAlert = {
      type: "deepfake_alert",
      id: newEventId(nowMs),
      level,
      previous_level: previous,
      participant_id: this.#participantId!,
      track_id: trackId,
      message,
      timestamp_ms: nowMs,
    };
    this.ctx.storage.transactionSync(() => this.#store.recordTransition(alert));
    this.#sinceMs = nowMs;
    this.#count("events");
    log("info", "level changed", { participant: alert.participant_id, event: alert.id, previous_level: previous, new_level: level, track: trackId });
    this.#broadcast(alert);
    const fps = this.#fpsFor(level);
    if (fps !== this.#video.fps) {
      this.#video.setFps(fps, nowMs);
      this.#broadcast({ type: "rate", video_fps: fps });
    }
  }

  #fpsFor(level: Level): number {
    return level === "suspicious" ? this.#config.video.burstFps : this.#config.video.normalFps;
  }

  // ---- lifecycle and storage -----------------------------------------------------------------

  #adoptParticipant(participantId: string): void {
    if (this.#participantId === participantId) return;
    const row = this.#store.ensureParticipant(participantId, Date.now());
    this.#participantId = row.participantId;
    this.#sinceMs = row.sinceMs;
  }

  #scheduleIdleClose(): void {
    this.#cancelIdleClose();
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.#clients().length > 0) return;
      this.#link.stop("no clients");
      this.#flushCounters();
      log("info", "upstream closed: no clients", { participant: this.#participantId });
    }, this.#config.upstreamIdleCloseMs);
  }

  #cancelIdleClose(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  #count(name: CounterName, by = 1): void {
    this.#counters[name] += by;
    this.#countersDirty = true;
    // Counters are batched: one storage write per COUNTERS_FLUSH_MS at most, not one per frame.
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = null;
      this.#flushCounters();
    }, COUNTERS_FLUSH_MS);
  }

  #flushCounters(): void {
    if (!this.#countersDirty) return;
    this.#countersDirty = false;
    try {
      this.#store.saveCounters(this.#counters);
    } catch (err) {
      log("error", "saving counters failed", { participant: this.#participantId, reason: errorMessage(err) });
    }
  }

  #snapshot() {
    return {
      participant_id: this.#participantId,
      level: this.#detection.level,
      since_ms: this.#sinceMs,
      video_fps: this.#video.fps,
      simulated: this.#config.simulated,
      upstream: { status: this.#link.status, queued: this.#link.queued },
      clients: this.#clients().length,
      counters: { ...this.#counters },
    };
  }
}
