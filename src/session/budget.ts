/**
 * Per-socket budgets (DESIGN.md §5): what one socket may make its participant's object do per
 * second. Token buckets on messages and bytes (checked before a message is even parsed), and an
 * audio clock per track that admits audio no faster than AUDIO_MAX_SPEED_RATIO x real time. A socket
 * over its budget has each refused message answered with an `error` event `rate_limited` (at most a
 * few per second: answering must not cost more than refusing), and is closed with 1008 if it keeps
 * on. Other sockets, of this participant or any other, have their own budgets. Pure: the clock is
 * passed in, so it tests in Node.
 */
import {
  AUDIO_BURST_S,
  AUDIO_MAX_SPEED_RATIO,
  AUDIO_MAX_TRACKS,
  SOCKET_BUDGET_BYTES_BURST,
  SOCKET_BUDGET_BYTES_PER_S,
  SOCKET_BUDGET_ENCODE_BURST_FRAMES,
  SOCKET_BUDGET_ENCODE_HEADROOM_RATIO,
  VIDEO_BURST_FPS,
  VIDEO_MAX_HEIGHT,
  VIDEO_MAX_WIDTH,
  SOCKET_BUDGET_MESSAGES_BURST,
  SOCKET_BUDGET_MESSAGES_PER_S,
  SOCKET_OVER_BUDGET_CLOSE_AFTER,
  SOCKET_OVER_BUDGET_WINDOW_MS,
  SOCKET_RATE_LIMITED_EVENTS_PER_S,
} from "../config/limits.js";
import { TokenBucket } from "../shared/token-bucket.js";


export interface BudgetLimits {
  messagesPerS: number;
  messagesBurst: number;
  bytesPerS: number;
  bytesBurst: number;
  /** Audio seconds admitted per wall-clock second, per track. */
  audioSpeedRatio: number;
  /** Audio seconds a track may be ahead at once. */
  audioBurstS: number;
  /** Refusals in one over-budget episode before the socket is closed. */
  closeAfter: number;
  /** An episode ends after this long without a refusal. */
  episodeMs: number;
  /** `rate_limited` events sent per second at most. */
  eventsPerS: number;
  /** Audio tracks with their own clock; more share one. */
  maxAudioTracks: number;
  /** Raw pixels per second converted and encoded for this socket, and how many it may have at once. */
  encodePixelsPerS: number;
  encodePixelsBurst: number;
}

/** The encode budget for a deployment's video settings (see SOCKET_BUDGET_ENCODE_HEADROOM_RATIO). */
export function encodeBudgetFor(video: { normalFps: number; burstFps: number; maxWidth: number; maxHeight: number }): Pick<BudgetLimits, "encodePixelsPerS" | "encodePixelsBurst"> {
  const frame = video.maxWidth * video.maxHeight;
  return {
    encodePixelsPerS: Math.max(video.normalFps, video.burstFps) * frame * SOCKET_BUDGET_ENCODE_HEADROOM_RATIO,
    encodePixelsBurst: SOCKET_BUDGET_ENCODE_BURST_FRAMES * frame,
  };
}

export const DEFAULT_BUDGET: BudgetLimits = {
  messagesPerS: SOCKET_BUDGET_MESSAGES_PER_S,
  messagesBurst: SOCKET_BUDGET_MESSAGES_BURST,
  bytesPerS: SOCKET_BUDGET_BYTES_PER_S,
  bytesBurst: SOCKET_BUDGET_BYTES_BURST,
  audioSpeedRatio: AUDIO_MAX_SPEED_RATIO,
  audioBurstS: AUDIO_BURST_S,
  closeAfter: SOCKET_OVER_BUDGET_CLOSE_AFTER,
  episodeMs: SOCKET_OVER_BUDGET_WINDOW_MS,
  eventsPerS: SOCKET_RATE_LIMITED_EVENTS_PER_S,
  maxAudioTracks: AUDIO_MAX_TRACKS,
  ...encodeBudgetFor({ normalFps: VIDEO_BURST_FPS, burstFps: VIDEO_BURST_FPS, maxWidth: VIDEO_MAX_WIDTH, maxHeight: VIDEO_MAX_HEIGHT }),
};

export type BudgetKind = "messages" | "bytes" | "audio";

/** What to do about one refused message. */
export interface Refusal {
  kind: BudgetKind;
  message: string;
  /** Send this refusal an `error` event (false: only counted, the socket already heard enough). */
  notify: boolean;
  /** The socket kept on: close it with 1008. */
  close: boolean;
}

const OVERFLOW_TRACK = "\u0000overflow";

export class SocketBudget {
  readonly #limits: BudgetLimits;
  readonly #messages: TokenBucket;
  readonly #bytes: TokenBucket;
  readonly #audio = new Map<string, TokenBucket>();
  readonly #events: TokenBucket;
  /** Raw pixels this socket may have encoded: handed to the video path, which skips frames over it. */
  readonly encode: TokenBucket;
  #refusals = 0;
  #lastRefusalMs = -Infinity;

  constructor(nowMs: number, limits: BudgetLimits = DEFAULT_BUDGET) {
    this.#limits = limits;
    this.#messages = new TokenBucket(limits.messagesPerS, limits.messagesBurst, nowMs);
    this.#bytes = new TokenBucket(limits.bytesPerS, limits.bytesBurst, nowMs);
    this.#events = new TokenBucket(limits.eventsPerS, limits.eventsPerS, nowMs);
    this.encode = new TokenBucket(limits.encodePixelsPerS, limits.encodePixelsBurst, nowMs);
  }

  /** One message of `bytes` arrived: admitted (null) or refused, before any parsing. */
  admitMessage(bytes: number, nowMs: number): Refusal | null {
    const { messagesPerS, bytesPerS } = this.#limits;
    // Check both before taking either, so a refusal costs the socket nothing.
    if (this.#messages.available(nowMs) < 1) return this.#refuse("messages", `over the budget of ${messagesPerS} messages per second`, nowMs);
    if (this.#bytes.available(nowMs) < bytes) return this.#refuse("bytes", `over the budget of ${bytesPerS} bytes per second`, nowMs);
    this.#messages.take(1, nowMs);
    this.#bytes.take(bytes, nowMs);
    return null;
  }

  /** An audio frame of `seconds` for `trackId`: admitted (null) or refused (faster than real time allows). */
  admitAudio(trackId: string, seconds: number, nowMs: number): Refusal | null {
    if (!(seconds > 0) || !Number.isFinite(seconds)) return null; // invalid frames are refused by validation
    const clock = this.#audioClock(trackId, nowMs);
    if (clock.take(seconds, nowMs)) return null;
    return this.#refuse("audio", `audio arrives faster than ${this.#limits.audioSpeedRatio}x real time`, nowMs);
  }

  /** Refusals in the current over-budget episode. */
  get refusals(): number {
    return this.#refusals;
  }

  #audioClock(trackId: string, nowMs: number): TokenBucket {
    let clock = this.#audio.get(trackId);
    if (clock) return clock;
    const key = this.#audio.size >= this.#limits.maxAudioTracks ? OVERFLOW_TRACK : trackId;
    clock = this.#audio.get(key);
    if (!clock) {
      clock = new TokenBucket(this.#limits.audioSpeedRatio, this.#limits.audioBurstS, nowMs);
      this.#audio.set(key, clock);
    }
    return clock;
  }

  #refuse(kind: BudgetKind, message: string, nowMs: number): Refusal {
    if (nowMs - this.#lastRefusalMs > this.#limits.episodeMs) this.#refusals = 0;
    this.#lastRefusalMs = nowMs;
    this.#refusals++;
    return { kind, message, notify: this.#events.take(1, nowMs), close: this.#refusals >= this.#limits.closeAfter };
  }
}

/** Seconds of audio an AudioFrame carries, from its declared parameters (0 when they make no sense). */
export function audioSeconds(byteLength: number, sampleRate: number, channels: number): number {
  if (!(sampleRate > 0) || !(channels > 0) || !Number.isFinite(sampleRate) || !Number.isFinite(channels)) return 0;
  return byteLength / (2 * channels) / sampleRate;
}
