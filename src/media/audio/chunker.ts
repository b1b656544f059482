/**
 * Speech-gated upstream chunks (docs/DESIGN.md §3, §4.4, §11): gathers 16 kHz mono samples while the
 * participant speaks and emits exactly AUDIO_CHUNK_SAMPLES (48000) samples as s16le bytes (96000).
 *
 * - A full buffer is emitted at once, mid-utterance.
 * - When speech ends with >= AUDIO_MIN_FLUSH_SAMPLES (1 s) buffered, the rest is zero-padded to
 *   48000 samples and emitted; a shorter remainder is discarded.
 * - Minimum interval (intervalMs, 0 = no limit): while less than intervalMs has passed since the
 *   last emitted chunk, speech is discarded, not buffered. Gathering resumes with the first speech
 *   after the interval, so the next chunk is fresh audio rather than audio that waited a minute.
 *   Consecutive chunks are therefore at least intervalMs apart (plus the time to gather one).
 * - An on-demand check (docs/DESIGN.md §13) may let the next chunk through inside the interval
 *   (allowNextChunk): one chunk, after which the interval applies again from that chunk.
 * - Each instance owns its buffer (the reference shared one buffer across instances).
 * - Samples are converted to s16le as they arrive, so completing a chunk costs no 48000-sample
 *   conversion at once (participants who start speaking together would otherwise all pay it in
 *   the same few milliseconds, and the isolate's other events would wait behind them).
 */
import { AUDIO_CHUNK_SAMPLES, AUDIO_MIN_FLUSH_SAMPLES } from "../../config/limits.js";
import { encodeS16le } from "./pcm.js";

/** What push() returns when no chunk completed (shared and frozen: no allocation per frame). */
const NONE = Object.freeze([]) as unknown as Uint8Array[];

export interface ChunkerOptions {
  /** Minimum ms between two emitted chunks; 0 means no limit. */
  intervalMs: number;
}

export class AudioChunker {
  readonly intervalMs: number;
  /**
   * The chunk being gathered, allocated when its first sample arrives: a track in the pause after a
   * chunk (most of the time) holds no 96 KB buffer, and completing a chunk allocates nothing more.
   */
  #bytes: Uint8Array<ArrayBuffer> | null = null;
  #filled = 0;
  #lastEmitMs: number | null = null;
  #allowNext = false;

  constructor(options: ChunkerOptions) {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs < 0) {
      throw new RangeError(`intervalMs must be a non-negative number, got ${options.intervalMs}`);
    }
    this.intervalMs = options.intervalMs;
  }

  /** Samples currently buffered towards the next chunk. */
  get bufferedSamples(): number {
    return this.#filled;
  }

  /** When the last chunk was emitted (the caller's clock), or null if none yet. */
  get lastEmitMs(): number | null {
    return this.#lastEmitMs;
  }

  /**
   * Offers samples with the current speaking state. Speech is buffered (or discarded while the
   * interval runs); samples offered with speaking = false are discarded and end any buffered
   * utterance, as speechEnded() does. Returns the chunks completed, each 96000 bytes (a
   * shared frozen empty list when none).
   */
  push(samples: Float32Array, speaking: boolean, nowMs: number): Uint8Array[] {
    if (!speaking) return this.speechEnded(nowMs);
    let chunks: Uint8Array[] | null = null;
    let i = 0;
    while (i < samples.length) {
      if (this.#filled === 0 && this.#waiting(nowMs)) break;
      const take = Math.min(AUDIO_CHUNK_SAMPLES - this.#filled, samples.length - i);
      const bytes = (this.#bytes ??= new Uint8Array(AUDIO_CHUNK_SAMPLES * 2));
      encodeS16le(samples.subarray(i, i + take), bytes.subarray(this.#filled * 2, (this.#filled + take) * 2));
      this.#filled += take;
      i += take;
      if (this.#filled === AUDIO_CHUNK_SAMPLES) (chunks ??= []).push(this.#emit(nowMs));
    }
    return chunks ?? NONE;
  }

  /** Speech stopped: emits the buffer zero-padded if it holds at least 1 s, otherwise drops it. */
  speechEnded(nowMs: number): Uint8Array[] {
    if (this.#filled === 0) return [];
    if (this.#filled < AUDIO_MIN_FLUSH_SAMPLES) {
      this.#filled = 0;
      return [];
    }
    this.#bytes!.fill(0, this.#filled * 2);
    return [this.#emit(nowMs)];
  }

  /** While on, the next chunk is gathered even inside the interval; emitting it turns this off. */
  allowNextChunk(on: boolean): void {
    this.#allowNext = on;
  }

  /** Drops any buffered audio; the interval clock is kept. */
  discard(): void {
    this.#filled = 0;
  }

  #waiting(nowMs: number): boolean {
    if (this.#allowNext) return false;
    return this.intervalMs > 0 && this.#lastEmitMs !== null && nowMs - this.#lastEmitMs < this.intervalMs;
  }

  #emit(nowMs: number): Uint8Array {
    const bytes = this.#bytes!;
    this.#bytes = null;
    this.#filled = 0;
    this.#lastEmitMs = nowMs;
    this.#allowNext = false;
    return bytes;
  }
}
