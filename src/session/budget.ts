/**
 * Budgets (docs/DESIGN.md §5.5, §16.3): what one socket, and all the sockets of one participant together, may make
 * the participant's object do per second. Token buckets on messages and bytes (checked before a
 * message is even parsed), an audio clock per track that admits audio no faster than
 * AUDIO_MAX_SPEED_RATIO x real time, and a participant-wide cap over all its sockets and tracks.
 *
 * Overload is not abuse: a busy isolate reads messages late and then in a burst. Every bucket holds
 * BUDGET_WINDOW_S of its rate, and an audio track also earns credit for the time it falls behind real
 * time (up to AUDIO_MAX_LATENESS_S), so a catch-up burst of audio that was sent at real time is
 * admitted. A socket is closed (1008) only when it keeps being refused *and* what it sent since it
 * connected is over the sustained rate, judged over at least BUDGET_WINDOW_S: lateness only ever
 * delays what an honest client sent, so that never closes one. Refusals are answered with `error`
 * events `rate_limited` (a few per second at most). Pure: the clock is passed in, so it tests in Node.
 */
import {
  AUDIO_BURST_S,
  AUDIO_MAX_LATENESS_S,
  AUDIO_MAX_SPEED_RATIO,
  AUDIO_MAX_TRACKS,
  BUDGET_WINDOW_S,
  PARTICIPANT_AUDIO_MAX_SPEED_RATIO,
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
  /** Audio seconds a track may have fallen behind real time and catch up at once. */
  audioLatenessS: number;
  /** Audio seconds per second over all the tracks of all the participant's sockets. */
  participantAudioSpeedRatio: number;
  /** What a client sent is judged over at least this many seconds before it is closed. */
  windowS: number;
  /** Refusals in one over-budget episode before the socket is closed (if its sending is over, too). */
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
export function encodeBudgetFor(video: {
  normalFps: number;
  burstFps: number;
  maxWidth: number;
  maxHeight: number;
}): Pick<BudgetLimits, "encodePixelsPerS" | "encodePixelsBurst"> {
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
  audioLatenessS: AUDIO_MAX_LATENESS_S,
  participantAudioSpeedRatio: PARTICIPANT_AUDIO_MAX_SPEED_RATIO,
  windowS: BUDGET_WINDOW_S,
  closeAfter: SOCKET_OVER_BUDGET_CLOSE_AFTER,
  episodeMs: SOCKET_OVER_BUDGET_WINDOW_MS,
  eventsPerS: SOCKET_RATE_LIMITED_EVENTS_PER_S,
  maxAudioTracks: AUDIO_MAX_TRACKS,
  ...encodeBudgetFor({
    normalFps: VIDEO_BURST_FPS,
    burstFps: VIDEO_BURST_FPS,
    maxWidth: VIDEO_MAX_WIDTH,
    maxHeight: VIDEO_MAX_HEIGHT,
  }),
};

export type BudgetKind = "messages" | "bytes" | "audio";

/** What to do about one refused message. */
export interface Refusal {
  kind: BudgetKind;
  /** Whose budget refused it: the socket's own, or its participant's (all its sockets together). */
  scope: "socket" | "participant";
  message: string;
  /** Send this refusal an `error` event (false: only counted, the socket already heard enough). */
  notify: boolean;
  /** The socket kept on, and what it (or its participant) sent is over the sustained rate: close it with 1008. */
  close: boolean;
}

/**
 * A token bucket plus a tally of everything offered (admitted or not) since `sinceMs`: `sustainedOver`
 * says whether that tally is over the rate for the time elapsed, judged over at least `windowS`.
 * Lateness cannot make an honest client's tally exceed its rate: it only delays what was sent.
 */
export class Allowance {
  readonly bucket: TokenBucket;
  #offered = 0;

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    nowMs: number,
    private readonly sinceMs = nowMs,
  ) {
    this.bucket = new TokenBucket(ratePerS, burst, nowMs);
  }

  offer(amount: number): void {
    this.#offered += amount;
  }

  sustainedOver(nowMs: number, windowS: number): boolean {
    const elapsedS = Math.max(windowS, (nowMs - this.sinceMs) / 1000);
    return this.#offered > this.ratePerS * elapsedS + this.burst;
  }
}

/**
 * How far a track is behind real time: +1 s per second, -1 per audio second admitted, between
 * -cap and +cap. Credit here is time the track was late (or paused): a catch-up may spend it.
 */
class Lateness {
  #s: number;
  #atMs: number;

  constructor(
    private readonly capS: number,
    initialS: number,
    nowMs: number,
  ) {
    this.#s = Math.min(capS, Math.max(0, initialS));
    this.#atMs = nowMs;
  }

  credit(nowMs: number): number {
    this.#s = Math.min(this.capS, this.#s + Math.max(0, nowMs - this.#atMs) / 1000);
    this.#atMs = Math.max(this.#atMs, nowMs);
    return this.#s;
  }

  spend(seconds: number, nowMs: number): void {
    this.#s = Math.max(-this.capS, this.credit(nowMs) - seconds);
  }
}

/** One audio track's clock: paced at the speed ratio (bursts of audioBurstS), plus its lateness credit. */
class AudioClock {
  readonly paced: Allowance;
  readonly #late: Lateness;

  constructor(limits: BudgetLimits, nowMs: number, acceptedAtMs: number) {
    this.paced = new Allowance(limits.audioSpeedRatio, limits.audioBurstS, nowMs, acceptedAtMs);
    // Audio the client may have sent between its socket opening and now, still queued.
    this.#late = new Lateness(limits.audioLatenessS, (nowMs - acceptedAtMs) / 1000, nowMs);
  }

  /** Admitted from lateness credit, from the paced bucket, or not at all (nothing taken). */
  canTake(seconds: number, nowMs: number): "late" | "paced" | null {
    if (this.#late.credit(nowMs) >= seconds) return "late";
    return this.paced.bucket.available(nowMs) >= seconds ? "paced" : null;
  }

  take(how: "late" | "paced", seconds: number, nowMs: number): void {
    // Everything admitted counts against lateness, so a track ahead of real time earns none.
    this.#late.spend(seconds, nowMs);
    if (how === "paced") this.paced.bucket.take(seconds, nowMs);
  }
}

/** The budget all the sockets of one participant share: one socket's worth, audio over all tracks. */
export class ParticipantBudget {
  readonly messages: Allowance;
  readonly bytes: Allowance;
  readonly audio: Allowance;
  readonly encode: TokenBucket;

  constructor(
    nowMs: number,
    readonly limits: BudgetLimits = DEFAULT_BUDGET,
  ) {
    this.messages = new Allowance(limits.messagesPerS, limits.messagesBurst, nowMs);
    this.bytes = new Allowance(limits.bytesPerS, limits.bytesBurst, nowMs);
    // Its burst is what one track may catch up at once after its object ran late.
    const audioBurstS = Math.max(limits.audioBurstS, limits.audioLatenessS);
    this.audio = new Allowance(limits.participantAudioSpeedRatio, audioBurstS, nowMs);
    this.encode = new TokenBucket(limits.encodePixelsPerS, limits.encodePixelsBurst, nowMs);
  }
}

const OVERFLOW_TRACK = "\u0000overflow";

export class SocketBudget {
  readonly #limits: BudgetLimits;
  readonly #participant: ParticipantBudget;
  readonly #acceptedAtMs: number;
  readonly #messages: Allowance;
  readonly #bytes: Allowance;
  readonly #audio = new Map<string, AudioClock>();
  readonly #events: TokenBucket;
  readonly #encode: TokenBucket;
  /** Raw pixels this socket may have encoded (its own and its participant's budget): frames over it are skipped. */
  readonly encode: { available(nowMs: number): number; take(amount: number, nowMs: number): boolean };
  #refusals = 0;
  #lastRefusalMs = -Infinity;

  /**
   * `participant`: the budget this socket shares with the participant's other sockets (its own if
   * absent). `acceptedAtMs`: when the socket opened (it cannot have sent anything before).
   */
  constructor(
    nowMs: number,
    limits: BudgetLimits = DEFAULT_BUDGET,
    participant?: ParticipantBudget,
    acceptedAtMs = nowMs,
  ) {
    this.#limits = limits;
    this.#participant = participant ?? new ParticipantBudget(nowMs, limits);
    this.#acceptedAtMs = Math.min(nowMs, acceptedAtMs > 0 ? acceptedAtMs : nowMs);
    this.#messages = new Allowance(limits.messagesPerS, limits.messagesBurst, nowMs, this.#acceptedAtMs);
    this.#bytes = new Allowance(limits.bytesPerS, limits.bytesBurst, nowMs, this.#acceptedAtMs);
    this.#events = new TokenBucket(limits.eventsPerS, limits.eventsPerS, nowMs);
    this.#encode = new TokenBucket(limits.encodePixelsPerS, limits.encodePixelsBurst, nowMs);
    const own = this.#encode;
    const shared = this.#participant.encode;
    this.encode = {
      available: (t) => Math.min(own.available(t), shared.available(t)),
      take: (amount, t) =>
        own.available(t) >= amount && shared.available(t) >= amount && own.take(amount, t) && shared.take(amount, t),
    };
  }

  /** One message of `bytes` arrived: admitted (null) or refused, before any parsing. */
  admitMessage(bytes: number, nowMs: number): Refusal | null {
    const p = this.#participant;
    this.#messages.offer(1);
    this.#bytes.offer(bytes);
    p.messages.offer(1);
    p.bytes.offer(bytes);
    // Check all before taking any, so a refusal costs the socket nothing.
    const { messagesPerS, bytesPerS } = this.#limits;
    const all = "(all its sockets together)";
    if (this.#messages.bucket.available(nowMs) < 1) {
      const why = `over the budget of ${messagesPerS} messages per second`;
      return this.#refuse("messages", "socket", this.#messages, why, nowMs);
    }
    if (this.#bytes.bucket.available(nowMs) < bytes) {
      return this.#refuse("bytes", "socket", this.#bytes, `over the budget of ${bytesPerS} bytes per second`, nowMs);
    }
    if (p.messages.bucket.available(nowMs) < 1) {
      const why = `over the participant's budget of ${p.messages.ratePerS} messages per second ${all}`;
      return this.#refuse("messages", "participant", p.messages, why, nowMs);
    }
    if (p.bytes.bucket.available(nowMs) < bytes) {
      const why = `over the participant's budget of ${p.bytes.ratePerS} bytes per second ${all}`;
      return this.#refuse("bytes", "participant", p.bytes, why, nowMs);
    }
    this.#messages.bucket.take(1, nowMs);
    this.#bytes.bucket.take(bytes, nowMs);
    p.messages.bucket.take(1, nowMs);
    p.bytes.bucket.take(bytes, nowMs);
    return null;
  }

  /** An audio frame of `seconds` for `trackId`: admitted (null) or refused (faster than real time allows). */
  admitAudio(trackId: string, seconds: number, nowMs: number): Refusal | null {
    if (!(seconds > 0) || !Number.isFinite(seconds)) return null; // invalid frames are refused by validation
    const clock = this.#audioClock(trackId, nowMs);
    const shared = this.#participant.audio;
    clock.paced.offer(seconds);
    shared.offer(seconds);
    const how = clock.canTake(seconds, nowMs);
    if (!how) {
      const why = `audio arrives faster than ${this.#limits.audioSpeedRatio}x real time`;
      return this.#refuse("audio", "socket", clock.paced, why, nowMs);
    }
    if (shared.bucket.available(nowMs) < seconds) {
      const why = `the participant's audio (all its sockets and tracks) arrives faster than ${shared.ratePerS}x ` +
        `real time`;
      return this.#refuse("audio", "participant", shared, why, nowMs);
    }
    clock.take(how, seconds, nowMs);
    shared.bucket.take(seconds, nowMs);
    return null;
  }

  /** Refusals in the current over-budget episode. */
  get refusals(): number {
    return this.#refusals;
  }

  #audioClock(trackId: string, nowMs: number): AudioClock {
    let clock = this.#audio.get(trackId);
    if (clock) return clock;
    const key = this.#audio.size >= this.#limits.maxAudioTracks ? OVERFLOW_TRACK : trackId;
    clock = this.#audio.get(key);
    if (!clock) {
      clock = new AudioClock(this.#limits, nowMs, this.#acceptedAtMs);
      this.#audio.set(key, clock);
    }
    return clock;
  }

  #refuse(kind: BudgetKind, scope: Refusal["scope"], allowance: Allowance, message: string, nowMs: number): Refusal {
    if (nowMs - this.#lastRefusalMs > this.#limits.episodeMs) this.#refusals = 0;
    this.#lastRefusalMs = nowMs;
    this.#refusals++;
    const close = this.#refusals >= this.#limits.closeAfter && allowance.sustainedOver(nowMs, this.#limits.windowS);
    return { kind, scope, message, notify: this.#events.take(1, nowMs), close };
  }
}

/** Seconds of audio an AudioFrame carries, from its declared parameters (0 when they make no sense). */
export function audioSeconds(byteLength: number, sampleRate: number, channels: number): number {
  if (!(sampleRate > 0) || !(channels > 0) || !Number.isFinite(sampleRate) || !Number.isFinite(channels)) return 0;
  return byteLength / (2 * channels) / sampleRate;
}
