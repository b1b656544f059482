/**
 * Client-side video rate limiting: one schedule-based sampler per track (the server's own
 * src/shared/sampler.ts), driven by the rate the server announces in `ready` and `rate` events.
 * Frames it refuses are dropped before they are rendered, encoded or sent.
 */
import { TrackSamplers } from "../shared/sampler.js";

/**
 * Tolerance of the client's schedule, as a share of the period. Small on purpose: the server's
 * sampler tolerates frames up to 25 % of a period early (SAMPLER_TOLERANCE_RATIO), so a client that
 * sends at most 5 % early leaves the other 20 % to network jitter and never loses a frame to it.
 */
export const CLIENT_SAMPLER_TOLERANCE_RATIO = 0.05;

/** Video tracks a client keeps a schedule for (the server accepts 8 per participant). */
export const CLIENT_MAX_VIDEO_TRACKS = 32;

export class RateGate {
  readonly #samplers: TrackSamplers;
  /** False until the server has announced a rate: nothing is sent before `ready`. */
  #announced = false;

  constructor(toleranceRatio = CLIENT_SAMPLER_TOLERANCE_RATIO) {
    this.#samplers = new TrackSamplers(0, { toleranceRatio });
  }

  /** Announced rate in frames per second; null until the server has announced one. */
  get fps(): number | null {
    return this.#announced ? this.#samplers.fps : null;
  }

  /** A rate from `ready` or `rate`: every track's schedule moves to it (0 stops video). */
  setFps(fps: number, nowMs: number): void {
    this.#announced = true;
    this.#samplers.setFps(fps, nowMs);
  }

  /** True when a frame of `trackId` offered at `nowMs` is due; a true answer uses up the slot. */
  take(trackId: string, nowMs: number): boolean {
    if (!this.#announced) return false;
    if (!this.#samplers.has(trackId) && this.#samplers.size >= CLIENT_MAX_VIDEO_TRACKS) {
      // Forget the oldest track rather than growing without bound.
      const oldest = this.#samplers.oldest();
      if (oldest !== undefined) this.#samplers.forget(oldest);
    }
    return this.#samplers.offer(trackId, nowMs);
  }

  forgetTrack(trackId: string): void {
    this.#samplers.forget(trackId);
  }
}
