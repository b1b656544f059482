/**
 * Adaptive video sampler (docs/DESIGN.md §4.1, §16.2): decides, before any pixel work, which incoming frames of one
 * video track are sent upstream.
 *
 * It keeps a schedule of deadlines (a virtual-scheduling rate limiter) rather than "at least 1/fps
 * since the last frame", so a client sending at exactly the announced rate with network jitter is
 * not cut to half that rate, and a dense source sampled at a low rate averages exactly that rate.
 *
 * Guarantee: over any increasing timestamps, a window of length T holds at most
 * (T + toleranceMs) * fps + 1 taken frames; there is never a burst to catch up after a gap.
 */

import { SAMPLER_TOLERANCE_RATIO } from "../config/limits.js";

const MS_PER_SECOND = 1000;

export interface VideoSamplerOptions {
  /** Share of a period by which a frame may precede its deadline and still be taken; in [0, 1), default 0.25. */
  toleranceRatio?: number;
}

/** One instance per video track. Times are milliseconds on any monotonic clock. */
export class VideoSampler {
  readonly #toleranceRatio: number;
  #fps = 0;
  /** Next deadline, or null when the next offered frame is taken at once. */
  #nextDeadlineMs: number | null = null;
  #lastTakenMs: number | null = null;

  constructor(fps: number, options: VideoSamplerOptions = {}) {
    const ratio = options.toleranceRatio ?? SAMPLER_TOLERANCE_RATIO;
    if (!Number.isFinite(ratio) || ratio < 0 || ratio >= 1) {
      throw new RangeError(`toleranceRatio must be in [0, 1), got ${ratio}`);
    }
    this.#toleranceRatio = ratio;
    this.#fps = checkFps(fps);
  }

  /** Current sampling rate in frames per second (0 or non-finite: disabled). */
  get fps(): number {
    return this.#fps;
  }

  /**
   * Changes the rate (e.g. CLEAR 0.2 fps -> SUSPICIOUS 1 fps); fps 0 disables sampling.
   * On a change the next deadline becomes lastTakenMs + new period, so a switch to a faster rate
   * takes a frame one new period after the last one (at once if that is already past or nothing
   * was taken yet). nowMs is only validated: the schedule is anchored on the last taken frame.
   */
  setFps(fps: number, nowMs: number): void {
    const next = checkFps(fps);
    if (Number.isNaN(nowMs)) throw new RangeError("nowMs must be a number, got NaN");
    if (next === this.#fps) return;
    this.#fps = next;
    const periodMs = this.#periodMs();
    this.#nextDeadlineMs =
      this.#lastTakenMs === null || periodMs === null ? null : this.#lastTakenMs + periodMs;
  }

  /** Called for every incoming frame before any pixel work; true = take this frame. */
  offer(nowMs: number): boolean {
    if (!this.due(nowMs)) return false;
    const periodMs = this.#periodMs()!;
    const deadlineMs = this.#nextDeadlineMs;
    // On schedule (or early within tolerance): keep the schedule. Late, or the first frame:
    // re-anchor on this frame, so a gap never turns into a burst of catch-up frames.
    this.#nextDeadlineMs = (deadlineMs === null || nowMs > deadlineMs ? nowMs : deadlineMs) + periodMs;
    this.#lastTakenMs = nowMs;
    return true;
  }

  /** Whether a frame offered at nowMs would be taken, without taking it. */
  due(nowMs: number): boolean {
    const periodMs = this.#periodMs();
    if (periodMs === null || !Number.isFinite(nowMs)) return false;
    const deadlineMs = this.#nextDeadlineMs;
    return deadlineMs === null || nowMs >= deadlineMs - this.#toleranceRatio * periodMs;
  }

  /** Period in ms, or null when sampling is disabled. */
  #periodMs(): number | null {
    return this.#fps > 0 && Number.isFinite(this.#fps) ? MS_PER_SECOND / this.#fps : null;
  }
}

function checkFps(fps: number): number {
  if (Number.isNaN(fps) || fps < 0) throw new RangeError(`fps must be >= 0, got ${fps}`);
  return fps;
}

/**
 * One sampler per video track, all moved together when the announced rate changes. Used by the
 * server (VideoIngest) and by the client SDK (RateGate), so both keep the same schedule.
 */
export class TrackSamplers {
  readonly #samplers = new Map<string, VideoSampler>();
  #fps: number;

  constructor(
    fps: number,
    private readonly options: VideoSamplerOptions = {},
  ) {
    this.#fps = checkFps(fps);
  }

  get fps(): number {
    return this.#fps;
  }

  /** Tracks with a schedule. */
  get size(): number {
    return this.#samplers.size;
  }

  /** The track whose schedule was created first. */
  oldest(): string | undefined {
    return this.#samplers.keys().next().value;
  }

  has(trackId: string): boolean {
    return this.#samplers.has(trackId);
  }

  setFps(fps: number, nowMs: number): void {
    this.#fps = checkFps(fps);
    for (const sampler of this.#samplers.values()) sampler.setFps(fps, nowMs);
  }

  /**
   * Offers a frame of `trackId` (its schedule starts with its first frame); true = take it.
   * `fps` overrides the common rate for this track (a connection that lowered its own rate).
   */
  offer(trackId: string, nowMs: number, fps = this.#fps): boolean {
    let sampler = this.#samplers.get(trackId);
    if (!sampler) {
      sampler = new VideoSampler(fps, this.options);
      this.#samplers.set(trackId, sampler);
    } else if (sampler.fps !== fps) {
      sampler.setFps(fps, nowMs);
    }
    return sampler.offer(nowMs);
  }

  /** Whether a frame of `trackId` offered now would be taken, without taking it (see offer). */
  due(trackId: string, nowMs: number, fps = this.#fps): boolean {
    const sampler = this.#samplers.get(trackId);
    if (!sampler) return fps > 0 && Number.isFinite(fps) && Number.isFinite(nowMs);
    if (sampler.fps !== fps) sampler.setFps(fps, nowMs);
    return sampler.due(nowMs);
  }

  forget(trackId: string): void {
    this.#samplers.delete(trackId);
  }
}
