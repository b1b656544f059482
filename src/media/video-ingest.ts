/**
 * The video path of one participant (docs/DESIGN.md §4.1): source filter -> validation -> adaptive sampler
 * -> JPEG (the encoder takes RGBA, RGB24 and I420 as they are). Pure: the JPEG encoder is injected,
 * so it runs in Node tests with the same WASM codec.
 */
import type { ClientInput } from "../protocol/client-messages.js";
import { ClientInputError } from "../protocol/client-messages.js";
import { readJpegHeader } from "./jpeg-markers.js";
import { TrackSamplers } from "../shared/sampler.js";
import { expectedByteLength, validateDimensions, type FrameLimits, type RawPixelFormat } from "../protocol/frames.js";

export type VideoFrameInput = Extract<ClientInput, { kind: "video" }>;

/** Raw pixels a connection may still have encoded (structural: a TokenBucket). */
export interface EncodeBudget {
  available(nowMs: number): number;
  take(amount: number, nowMs: number): boolean;
}
/** Encodes raw pixels of a validated frame as a baseline JPEG (src/media/jpeg.ts). */
export type JpegEncoder = (
  pixels: Uint8Array,
  width: number,
  height: number,
  format: RawPixelFormat,
  quality: number,
) => Promise<Uint8Array>;

export interface VideoIngestOptions {
  fps: number;
  jpegQuality: number;
  limits: FrameLimits;
  toleranceRatio: number;
  maxTracks: number;
  encode: JpegEncoder;
  /**
   * Awaited between taking a raw frame and encoding it, so that events already waiting (upstream
   * results, other sockets' messages) run before the encode holds the thread. Resolving `false`
   * says the isolate is running late (overload): the frame is skipped before it is encoded
   * (`busy`, counted frames_busy), the first thing shed (docs/DESIGN.md §5). Default: none.
   */
  beforeEncode?: () => Promise<boolean | void>;
}

export type VideoOutcome =
  | { kind: "screen" }
  | { kind: "skipped" }
  /**
   * Sampled while another frame of this participant was still being encoded, or while the isolate
   * runs late: dropped.
   */
  | { kind: "busy" }
  /** Due, but its connection's encode budget is spent: dropped before any pixel work. */
  | { kind: "throttled" }
  | { kind: "jpeg"; trackId: string; data: Uint8Array; passthrough: boolean };

export class VideoIngest {
  readonly #samplers: TrackSamplers;
  /**
   * One frame of the participant is encoded at a time (its pixels are copied once, into the
   * encoder's reused WASM buffer).
   */
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
      throw new ClientInputError(
        "bad_track_id",
        `too many video tracks (at most ${this.options.maxTracks} per participant)`,
      );
    }
    if (frame.format !== "JPEG" && this.#encoding) {
      // A frame the sampler would take is dropped as busy without using up its slot.
      return this.#samplers.due(frame.trackId, nowMs, fps) ? { kind: "busy" } : { kind: "skipped" };
    }
    const pixels = frame.width * frame.height;
    if (frame.format !== "JPEG" && budget && budget.available(nowMs) < pixels) return { kind: "throttled" };
    if (!this.#samplers.offer(frame.trackId, nowMs, fps)) return { kind: "skipped" };
    if (frame.format === "JPEG") return { kind: "jpeg", trackId: frame.trackId, data: frame.data, passthrough: true };
    budget?.take(pixels, nowMs);
    this.#encoding = true;
    try {
      if ((await this.options.beforeEncode?.()) === false) return { kind: "busy" };
      const data = await this.options.encode(
        frame.data,
        frame.width,
        frame.height,
        frame.format,
        this.options.jpegQuality,
      );
      return { kind: "jpeg", trackId: frame.trackId, data, passthrough: false };
    } finally {
      this.#encoding = false;
    }
  }
}

function asClientError(err: unknown): Error {
  if (err instanceof ClientInputError) return err;
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    return new ClientInputError(err.code as ClientInputError["code"], err.message);
  }
  return err instanceof Error ? err : new Error(String(err));
}
