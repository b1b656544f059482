/**
 * DeepfakeEdgeClient: one participant's WebSocket to the service (docs/DESIGN.md §5), for browsers and
 * Node. Sends protobuf ClientMessages, emits typed events, honours the announced video rate,
 * reconnects with backoff, and never sends while disconnected (it drops and counts instead).
 */
import { deepfake_edge } from "../gen/ingest.js";
import {
  MAX_CLIENT_MESSAGE_BYTES, RECONNECT_INITIAL_MS, RECONNECT_JITTER_RATIO, RECONNECT_MAX_MS,
} from "../config/limits.js";
import { Backoff } from "../shared/backoff.js";
import { realTimers, type Timers } from "../shared/timers.js";
import type { ServerEvent } from "../protocol/events.js";
import { parseServerEvent, type CheckCompletedEvent, type ReadyEvent } from "./events.js";
import { ClientEmitter } from "./emitter.js";
import { RateGate } from "./rate-gate.js";
import {
  AuthError, REFUSED_UPGRADE_STATUSES, SOCKET_OPEN, browserSocketFactory, isRefusedUpgrade, probeTokenRefusal,
  refusedUpgradeStatus, streamUrl, tokenClaims,
} from "./socket.js";
import type { SocketFactory, WebSocketLike } from "./socket.js";
import { AUDIO_BATCH_MS, TimedAudioBatcher, type PcmFrame } from "./audio-batcher.js";
import {
  audioMessage, videoMessage, type AudioFrameInput, type VideoFrameInput, type VideoFrameMeta,
} from "./messages.js";
import { CLIENT_HEALTHY_AFTER_MS, CLIENT_MAX_BUFFERED_BYTES, TERMINAL_CLOSE_CODES } from "./options.js";
import { emptyClientStats } from "./options.js";
import type { ClientOptions, ClientStats, ConnectionState, DropReason } from "./options.js";
import type { RenderedFrame, SendResult, StateChange } from "./options.js";
import { CheckWaiters } from "./checks.js";

const v1 = deepfake_edge.v1;

interface Deferred {
  promise: Promise<ReadyEvent>;
  resolve(ready: ReadyEvent): void;
  reject(error: Error): void;
}

export class DeepfakeEdgeClient extends ClientEmitter {
  readonly url: string;
  readonly #options: ClientOptions;
  readonly #factory: SocketFactory;
  readonly #timers: Timers;
  readonly #backoff: Backoff;
  readonly #healthyAfterMs: number;
  readonly #maxBuffered: number;
  readonly #maxMessage: number;
  readonly #gate = new RateGate();
  readonly #audio: TimedAudioBatcher;
  readonly #checks: CheckWaiters;
  #state: ConnectionState = "idle";
  #socket: WebSocketLike | null = null;
  #ready = false;
  #audioRejected = false;
  #audioSentHere = 0;
  #audioPausedUntil = 0; // timers.now() before which the service does not want speech (`audio` event)
  #wanted = false;
  #attemptId = 0;
  #retryTimer: unknown = null;
  #healthyTimer: unknown = null;
  #deferred: Deferred | null = null;
  #speaking: boolean | null = null;
  #stats: ClientStats = emptyClientStats();

  constructor(options: ClientOptions) {
    super();
    this.#options = options;
    this.url = streamUrl(options.baseUrl, options.participantId);
    this.#factory = options.socketFactory ?? browserSocketFactory();
    this.#timers = options.timers ?? realTimers;
    const reconnect = options.reconnect === false ? {} : (options.reconnect ?? {});
    this.#backoff = new Backoff({
      initialMs: reconnect.initialMs ?? RECONNECT_INITIAL_MS,
      maxMs: reconnect.maxMs ?? RECONNECT_MAX_MS,
      jitterRatio: reconnect.jitterRatio ?? RECONNECT_JITTER_RATIO,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#healthyAfterMs = reconnect.healthyAfterMs ?? CLIENT_HEALTHY_AFTER_MS;
    this.#maxBuffered = options.maxBufferedBytes ?? CLIENT_MAX_BUFFERED_BYTES;
    this.#maxMessage = options.maxMessageBytes ?? MAX_CLIENT_MESSAGE_BYTES;
    const batchMs = options.audioBatchMs ?? AUDIO_BATCH_MS;
    this.#audio = new TimedAudioBatcher(batchMs, this.#timers, (audio) => this.#send("audio", { audio }));
    this.#checks = new CheckWaiters(this.#timers);
  }

  get state(): ConnectionState {
    return this.#state;
  }
  /** The video rate last announced by the server (null before the first `ready`). */
  get videoFps(): number | null {
    return this.#gate.fps;
  }
  /** True between `ready` and the socket going away. */
  get isReady(): boolean {
    return this.#ready && this.#socket?.readyState === SOCKET_OPEN;
  }
  get stats(): ClientStats {
    return structuredClone(this.#stats);
  }

  /**
   * Opens the socket (and keeps it open: it reconnects until close()). Resolves on the first
   * `ready`; rejects with AuthError when the token is refused, or with an Error after close().
   */
  connect(): Promise<ReadyEvent> {
    if (this.#deferred) return this.#deferred.promise;
    let resolve!: (ready: ReadyEvent) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<ReadyEvent>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => undefined); // a caller that never awaits must not see an unhandled rejection
    this.#deferred = { promise, resolve, reject };
    this.#wanted = true;
    this.#backoff.reset();
    void this.#attempt();
    return promise;
  }

  /** Closes the socket for good (no reconnect). connect() may be called again later. */
  close(code = 1000, reason = "client closed"): void {
    this.#audio.flush(); // the last batch goes out before the close frame
    this.#wanted = false;
    this.#attemptId++;
    this.#clearTimers();
    const socket = this.#socket;
    this.#socket = null;
    this.#ready = false;
    try {
      socket?.close(code, reason);
    } catch {
      // already closing
    }
    this.#finish(new Error("client closed"), { code, reason });
  }

  sendHello(): SendResult {
    const hello = this.#options.hello ?? {};
    return this.#send("other", {
      hello: {
        client: hello.client ?? "deepfake-edge-sdk",
        vad: hello.vad ?? false,
        honorsRate: this.#options.honorRate ?? true,
      },
    });
  }

  /** Tells the server whether the participant speaks (hosts with a VAD; set hello.vad). Resent on reconnect. */
  setSpeaking(speaking: boolean): SendResult {
    this.#speaking = speaking;
    this.#audio.flush(); // the audio before the marker reaches the server before it
    return this.#send("other", { speaking: { speaking } });
  }

  /**
   * Asks for an on-demand check (docs/DESIGN.md §13): a fresh verdict within `durationS` (0: the service's
   * default, 10 s; at most 60). Joins a check already running. Resolves with its `check_completed`;
   * rejects with a CheckError (code `check_rate_limited`, `bad_check`, `not_sent`, `timeout`, ...).
   */
  check(durationS = 0): Promise<CheckCompletedEvent> {
    return this.#checks.request(durationS, () => this.#send("other", { check: { durationS } }));
  }

  /** Sends one frame if it is due at the announced rate; raw formats are checked for size first. */
  sendVideo(frame: VideoFrameInput): SendResult {
    const message = videoMessage(frame); // validates before any decision
    const verdict = this.#admitVideo(frame.trackId);
    return verdict === "sent" ? this.#send("video", message) : verdict;
  }

  /**
   * Like sendVideo, but the pixels are produced only for a frame that is due: a browser draws and
   * encodes its canvas (async) only at the announced rate, not for every camera frame.
   */
  async captureVideo(meta: VideoFrameMeta, render: () => RenderedFrame | Promise<RenderedFrame>): Promise<SendResult> {
    const verdict = this.#admitVideo(meta.trackId);
    if (verdict !== "sent") return verdict;
    const rendered = await render();
    const frame = rendered instanceof Uint8Array ? { ...meta, data: rendered } : { ...meta, ...rendered };
    return this.#send("video", videoMessage(frame));
  }

  /**
   * Takes one s16 PCM frame (up to 1 s; 20 ms is typical). Frames of a track go out joined,
   * audioBatchMs (default 100) to a message; "sent" = in the batch, which leaves within audioBatchMs.
   */
  sendAudio(frame: AudioFrameInput): SendResult {
    const audio = audioMessage(frame).audio as PcmFrame; // validates before any decision
    if (this.#audioRejected) return this.#drop("audio_rejected");
    if (this.#timers.now() < this.#audioPausedUntil) return this.#drop("audio_not_wanted");
    const socket = this.#socket;
    if (!socket || socket.readyState !== SOCKET_OPEN) return this.#drop("disconnected");
    if (socket.bufferedAmount > this.#maxBuffered) return this.#drop("backpressure");
    this.#audio.push(audio);
    return "sent";
  }

  #admitVideo(trackId: string | undefined): SendResult {
    const socket = this.#socket;
    if (!socket || socket.readyState !== SOCKET_OPEN) return this.#drop("disconnected");
    if (!this.#ready) return this.#drop("not_ready");
    if (socket.bufferedAmount > this.#maxBuffered) return this.#drop("backpressure");
    const honor = this.#options.honorRate ?? true;
    if (honor && !this.#gate.take(trackId || "camera", this.#timers.now())) return this.#drop("rate_limited");
    return "sent";
  }

  #send(kind: "video" | "audio" | "other", message: deepfake_edge.v1.ClientMessage.$Properties): SendResult {
    const socket = this.#socket;
    if (!socket || socket.readyState !== SOCKET_OPEN) return this.#drop("disconnected");
    if (kind !== "other" && socket.bufferedAmount > this.#maxBuffered) return this.#drop("backpressure");
    const bytes = v1.ClientMessage.encode(message).finish();
    if (bytes.byteLength > this.#maxMessage) return this.#drop("too_large");
    try {
      socket.send(bytes);
    } catch {
      return this.#drop("disconnected");
    }
    const sent = this.#stats.sent;
    sent.messages++;
    sent.bytes += bytes.byteLength;
    if (kind === "video") {
      sent.videoFrames++;
      sent.videoBytes += bytes.byteLength;
    } else if (kind === "audio") {
      sent.audioFrames++;
      sent.audioBytes += bytes.byteLength;
      this.#audioSentHere++;
    }
    return "sent";
  }

  #drop(reason: DropReason): DropReason {
    this.#stats.dropped[reason]++;
    return reason;
  }

  async #attempt(): Promise<void> {
    const attemptId = ++this.#attemptId;
    this.#setState({ state: "connecting" });
    let token: string | undefined;
    try {
      token = typeof this.#options.token === "function" ? await this.#options.token() : this.#options.token;
    } catch (err) {
      if (attemptId === this.#attemptId) this.#retry({ reason: `token provider failed: ${(err as Error).message}` });
      return;
    }
    if (attemptId !== this.#attemptId || !this.#wanted) return;
    const exp = token === undefined ? undefined : tokenClaims(token)?.exp;
    if (exp !== undefined && exp * 1000 <= Date.now()) {
      return this.#failAuth(new AuthError(`connect token expired at ${new Date(exp * 1000).toISOString()}`, 0));
    }
    let socket: WebSocketLike;
    try {
      socket = this.#factory(this.url, token);
      socket.binaryType = "arraybuffer";
    } catch (err) {
      return this.#finish(err instanceof Error ? err : new Error(String(err)), {});
    }
    this.#socket = socket;
    let opened = false;
    let status: number | null = null;
    socket.addEventListener("open", () => {
      if (socket !== this.#socket) return;
      opened = true;
      this.#onOpen();
    });
    socket.addEventListener("message", (event) => {
      if (socket === this.#socket) this.#onMessage(event.data);
    });
    socket.addEventListener("error", (event) => {
      status ??= refusedUpgradeStatus(event);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.#socket) return;
      void this.#onGone(opened, status, event.code, event.reason, token);
    });
  }

  #onOpen(): void {
    this.#stats.connects++;
    this.#ready = false;
    this.#audioRejected = false;
    this.#audioSentHere = this.#audioPausedUntil = 0; // a new connection's audio path has no pause yet
    this.#setState({ state: "open" });
    this.#healthyTimer = this.#timers.setTimeout(() => {
      this.#healthyTimer = null;
      this.#backoff.reset();
    }, this.#healthyAfterMs);
    this.sendHello();
    if (this.#options.hello?.vad && this.#speaking !== null) this.setSpeaking(this.#speaking);
  }

  #onMessage(data: unknown): void {
    const parsed = typeof data === "string" ? parseServerEvent(data) : null;
    if (!parsed?.ok) {
      this.#stats.badEvents++;
      return;
    }
    const event: ServerEvent = parsed.event;
    switch (event.type) {
      case "ready":
        this.#gate.setFps(event.video_fps, this.#timers.now());
        this.#ready = true;
        this.#deferred?.resolve(event);
        return this.emit("ready", event);
      case "rate":
        this.#gate.setFps(event.video_fps, this.#timers.now());
        return this.emit("rate", event);
      case "audio": // timed on this clock (resume_in_ms): a skewed clock never withholds speech
        this.#audioPausedUntil = event.wanted ? 0 : this.#timers.now() + event.resume_in_ms;
        if (!event.wanted) this.#stats.dropped.audio_not_wanted += this.#audio.discard();
        return this.emit("audio", event);
      case "error":
        this.#stats.serverErrors++;
        // A server without the audio path answers unsupported_format to each audio frame: stop sending audio here.
        if (event.code === "unsupported_format" && /audio/i.test(event.message) && this.#audioSentHere > 0) {
          this.#audioRejected = true;
        }
        this.#checks.error(event);
        return this.emit("error", event);
      case "check_started":
        this.#checks.started(event);
        return this.emit("check_started", event);
      case "check_completed":
        this.#checks.completed(event);
        return this.emit("check_completed", event);
      case "deepfake_alert":
        return this.emit("deepfake_alert", event);
      case "upstream":
        return this.emit("upstream", event);
      case "upstream_error":
        return this.emit("upstream_error", event);
    }
  }

  async #onGone(opened: boolean, status: number | null, code: number, reason: string, token?: string): Promise<void> {
    this.#socket = null;
    this.#ready = false;
    this.#checks.lost(false);
    this.#stats.dropped.disconnected += this.#audio.discard();
    this.#clearTimers();
    if (!this.#wanted) return;
    const attemptId = this.#attemptId;
    const probe = this.#options.probeAuth ?? typeof fetch === "function";
    if (!opened && status === null && probe) status = await probeTokenRefusal(this.url, token);
    if (attemptId !== this.#attemptId || !this.#wanted) return;
    if (isRefusedUpgrade(status)) {
      const what = REFUSED_UPGRADE_STATUSES[status];
      return this.#failAuth(new AuthError(`${what} (HTTP ${status}) for ${this.#options.participantId}`, status));
    }
    const shouldReconnect = this.#options.shouldReconnect ?? ((c: number) => !TERMINAL_CLOSE_CODES.includes(c));
    if (this.#options.reconnect === false || (opened && !shouldReconnect(code, reason))) {
      return this.#finish(new Error(`socket closed (${code}${reason ? ` ${reason}` : ""})`), { code, reason });
    }
    const why = reason || (opened ? "socket closed" : `upgrade failed${status ? ` with HTTP ${status}` : ""}`);
    this.#retry({ code, reason: why });
  }

  #retry(info: { code?: number; reason: string }): void {
    if (!this.#wanted) return;
    if (this.#options.reconnect === false) return this.#finish(new Error(info.reason), info);
    const { delayMs } = this.#backoff.next();
    this.#stats.reconnects++;
    this.#setState({ state: "reconnecting", retryInMs: Math.round(delayMs), ...info });
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = null;
      if (this.#wanted) void this.#attempt();
    }, delayMs);
  }

  #failAuth(error: AuthError): void {
    this.#wanted = false;
    this.emit("auth_error", error);
    this.#finish(error, {});
  }

  #finish(error: Error, info: { code?: number; reason?: string }): void {
    this.#wanted = false;
    this.#clearTimers();
    const deferred = this.#deferred;
    this.#deferred = null;
    deferred?.reject(error);
    this.#checks.lost(true);
    if (this.#state !== "closed") this.#setState({ state: "closed", error, ...info });
  }

  #setState(change: Omit<StateChange, "previous">): void {
    const previous = this.#state;
    this.#state = change.state;
    if (previous === change.state && change.state !== "reconnecting") return;
    this.emit("state", { ...change, previous });
  }

  #clearTimers(): void {
    this.#audio.stop();
    if (this.#retryTimer !== null) this.#timers.clearTimeout(this.#retryTimer);
    if (this.#healthyTimer !== null) this.#timers.clearTimeout(this.#healthyTimer);
    this.#retryTimer = this.#healthyTimer = null;
  }
}
