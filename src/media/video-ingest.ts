/**
 * The video path of one participant (DESIGN.md §2): source filter -> validation -> adaptive sampler
 * -> pixel conversion -> JPEG. Pure: the JPEG encoder is injected, so it runs in Node tests with the
 * same WASM codec.
 */
import type { ClientInput } from "../protocol/client-messages.js";
import { ClientInputError } from "../protocol/client-messages.js";
import { readJpegHeader } from "./jpeg-markers.js";
import { TrackSamplers } from "../shared/sampler.js";
import { expectedByteLength, toRgba, validateDimensions, type FrameLimits } from "./pixels.js";

export type VideoFrameInput = Extract<ClientInput, { kind: "video" }>;

/** Raw pixels a connection may still have encoded (structural: a TokenBucket). */
export interface EncodeBudget {
  available(nowMs: number): number;
  take(amount: number, nowMs: number): boolean;
}
export type JpegEncoder = (rgba: Uint8ClampedArray, width: number, height: number, quality: number) => Promise<Uint8Array>;

export interface VideoIngestOptions {
  fps: number;
  jpegQuality: number;
  limits: FrameLimits;
  toleranceRatio: number;
  maxTracks: number;
  encode: JpegEncoder;
}

export type VideoOutcome =
  | { kind: "screen" }
  | { kind: "skipped" }
  /** Sampled while another frame of this participant was still being encoded: dropped. */
  | { kind: "busy" }
  /** Due, but its connection's encode budget is spent: dropped before any pixel work. */
  | { kind: "throttled" }
  | { kind: "jpeg"; trackId: string; data: Uint8Array; passthrough: boolean };


export class VideoIngest {
  readonly #samplers: TrackSamplers;
  /**
   * Conversion buffer shared by the participant's tracks, grown to the largest frame converted and
   * reused: no per-frame allocation. One frame is converted and encoded at a time.
   */
  #scratch: Uint8ClampedArray | null = null;
  #encoding = false;

  constructor(private readonly options: VideoIngestOptions) {
    this.#samplers = new TrackSamplers(options.fps, { toleranceRatio: options.toleranceRatio });
  }

  get fps(): number {
    return this.#samplers.fps;
  }

  /** Changes the sampling rate of every track (level change). */
  setFps(fps: number, nowMs: number): void {
    this.#samplers.setFps(fps, nowMs);
  }

  forgetTrack(trackId: string): void {
    this.#samplers.forget(trackId);
    if (this.#samplers.size === 0) this.#scratch = null;
  }

  /**
   * Screen share is dropped first, then the frame is validated (cheap length checks only), then the
   * sampler decides; only sampled frames are converted and encoded. Throws ClientInputError.
   * `fps` is the rate for this frame's connection (default: the participant's rate); `budget` its
   * encode budget, checked before the sampler so a throttled frame does not use up the track's slot.
   */
  async process(frame: VideoFrameInput, nowMs: number, fps = this.fps, budget?: EncodeBudget): Promise<VideoOutcome> {
    if (frame.source === "screen") return { kind: "screen" };
    if (frame.format === "JPEG") {
      let header;
      try {
        header = readJpegHeader(frame.data);
      } catch (err) {
        throw new ClientInputError("bad_jpeg", `format JPEG but ${(err as Error).message}`);
      }
      try {
        validateDimensions(header.width, header.height, this.options.limits);
      } catch (err) {
        throw asClientError(err);
      }
    } else {
      try {
        validateDimensions(frame.width, frame.height, this.options.limits);
      } catch (err) {
        throw asClientError(err);
      }
      const expected = expectedByteLength(frame.format, frame.width, frame.height);
      if (frame.data.byteLength !== expected) {
        throw new ClientInputError(
          "bad_frame_size",
          `${frame.format} ${frame.width}x${frame.height} needs ${expected} bytes, got ${frame.data.byteLength}`,
        );
      }
    }
    if (!this.#samplers.has(frame.trackId) && this.#samplers.size >= this.options.maxTracks) {
      throw new ClientInputError("bad_track_id", `too many video tracks (at most ${this.options.maxTracks} per participant)`);
    }
    if (frame.format !== "JPEG" && this.#encoding) return { kind: "busy" };
    const pixels = frame.width * frame.height;
    if (frame.format !== "JPEG" && budget && budget.available(nowMs) < pixels) return { kind: "throttled" };
    if (!this.#samplers.offer(frame.trackId, nowMs, fps)) return { kind: "skipped" };
    if (frame.format === "JPEG") return { kind: "jpeg", trackId: frame.trackId, data: frame.data, passthrough: true };
    budget?.take(pixels, nowMs);
    this.#encoding = true;
    try {
      let rgba: Uint8ClampedArray;
      try {
        rgba = toRgba(frame.format, frame.width, frame.height, frame.data, this.options.limits, this.#scratchFor(frame));
      } catch (err) {
        throw asClientError(err);
      }
      const data = await this.options.encode(rgba, frame.width, frame.height, this.options.jpegQuality);
      return { kind: "jpeg", trackId: frame.trackId, data, passthrough: false };
    } finally {
      this.#encoding = false;
    }
  }

  /** Bytes held by the conversion buffer (for the memory figures). */
  get scratchBytes(): number {
    return this.#scratch?.byteLength ?? 0;
  }

  #scratchFor(frame: VideoFrameInput): Uint8ClampedArray | undefined {
    if (frame.format === "RGBA") return undefined; // encoded straight from the message, no copy
    const bytes = frame.width * frame.height * 4;
    if (!this.#scratch || this.#scratch.byteLength < bytes) this.#scratch = new Uint8ClampedArray(bytes);
    return this.#scratch;
  }
}

function asClientError(err: unknown): Error {
  if (err instanceof ClientInputError) return err;
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    return new ClientInputError(err.code as ClientInputError["code"], err.message);
  }
  return err instanceof Error ? err : new Error(String(err));
}
