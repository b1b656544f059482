/**
 * Joins consecutive audio frames into fewer, longer AudioFrame messages (docs/DESIGN.md §5 allows up to
 * 1 s per frame). The service's cost is per message as much as per byte: a 20 ms frame costs the
 * runtime about as much as a 100 ms one, so five times fewer messages carry the same audio (README
 * "Performance"). Audio is gathered into 3 s chunks upstream, so 100 ms of batching delays nothing
 * a user sees. Pure: the client owns the timer that flushes a batch the host stops feeding.
 *
 * A batch holds frames of one track, rate and channel count, in order; a frame that differs flushes
 * the batch first. The batch's timestamp is its first frame's.
 */
import { AUDIO_MAX_FRAME_MS } from "../config/limits.js";
import type { Timers } from "../shared/timers.js";

/** Default batch length of the SDK (ClientOptions.audioBatchMs). */
export const AUDIO_BATCH_MS = 100;

export interface PcmFrame {
  trackId: string;
  sampleRate: number;
  channels: number;
  timestampMs: number;
  /** s16le interleaved bytes. */
  data: Uint8Array;
}

export class AudioBatcher {
  readonly #batchMs: number;
  #pending: PcmFrame[] = [];
  #pendingBytes = 0;

  /** batchMs 0 sends every frame as it is; at most AUDIO_MAX_FRAME_MS. */
  constructor(batchMs: number = AUDIO_BATCH_MS) {
    if (!Number.isFinite(batchMs) || batchMs < 0 || batchMs > AUDIO_MAX_FRAME_MS) {
      throw new RangeError(`audioBatchMs must be between 0 and ${AUDIO_MAX_FRAME_MS}, got ${batchMs}`);
    }
    this.#batchMs = batchMs;
  }

  get batchMs(): number {
    return this.#batchMs;
  }

  /** Milliseconds of audio waiting for the next message. */
  get pendingMs(): number {
    const first = this.#pending[0];
    return first ? durationMs(first, this.#pendingBytes) : 0;
  }

  /** Takes one validated frame; returns the messages now due (oldest first), possibly none. */
  push(frame: PcmFrame): PcmFrame[] {
    const out: PcmFrame[] = [];
    const first = this.#pending[0];
    if (first && !sameStream(first, frame)) out.push(...this.flush());
    // A frame that would take the batch past the per-message maximum goes out on its own next batch.
    if (this.#pending.length > 0 && durationMs(frame, this.#pendingBytes + frame.data.byteLength) > AUDIO_MAX_FRAME_MS)
      out.push(...this.flush());
    this.#pending.push(frame);
    this.#pendingBytes += frame.data.byteLength;
    if (this.pendingMs >= this.#batchMs) out.push(...this.flush());
    return out;
  }

  /** Everything pending as one message (none when empty). */
  flush(): PcmFrame[] {
    const frames = this.#pending;
    const first = frames[0];
    if (!first) return [];
    this.#pending = [];
    const bytes = this.#pendingBytes;
    this.#pendingBytes = 0;
    if (frames.length === 1) return [first];
    const data = new Uint8Array(bytes);
    let at = 0;
    for (const f of frames) {
      data.set(f.data, at);
      at += f.data.byteLength;
    }
    return [{ ...first, data }];
  }

  /** Forgets what is pending (the socket went away); returns how many frames were dropped. */
  discard(): number {
    const n = this.#pending.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    return n;
  }
}

function sameStream(a: PcmFrame, b: PcmFrame): boolean {
  return a.trackId === b.trackId && a.sampleRate === b.sampleRate && a.channels === b.channels;
}

function durationMs(format: PcmFrame, bytes: number): number {
  return (bytes / (2 * format.channels) / format.sampleRate) * 1000;
}

/**
 * A batcher with its timer: `send` gets each batch when it is full, when `flush()` is called, or
 * `batchMs` after its first frame if the host stops feeding it.
 */
export class TimedAudioBatcher {
  readonly #batcher: AudioBatcher;
  #timer: unknown = null;

  constructor(
    batchMs: number,
    private readonly timers: Timers,
    private readonly send: (batch: PcmFrame) => void,
  ) {
    this.#batcher = new AudioBatcher(batchMs);
  }

  push(frame: PcmFrame): void {
    for (const batch of this.#batcher.push(frame)) this.send(batch);
    if (this.#batcher.pendingMs === 0) this.stop();
    else
      this.#timer ??= this.timers.setTimeout(() => {
        this.#timer = null;
        this.flush();
      }, this.#batcher.batchMs);
  }

  flush(): void {
    this.stop();
    for (const batch of this.#batcher.flush()) this.send(batch);
  }

  /** Stops the timer and forgets the pending frames; returns how many. */
  discard(): number {
    this.stop();
    return this.#batcher.discard();
  }

  stop(): void {
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
