/**
 * Built-in voice-activity gate (docs/DESIGN.md §4.4) for clients that never send Speaking messages.
 *
 * Energy-based on the 16 kHz mono signal, in 20 ms windows:
 * - level: RMS of the window after removing its mean (so a DC offset is not energy), in dBFS
 *   (20 log10 RMS; a full-scale sine is -3 dBFS; digital silence reads VAD_SILENCE_DBFS);
 * - noise floor: seeded by the first window (capped at VAD_INITIAL_FLOOR_MAX_DBFS), falls fast to
 *   quieter windows, rises slowly towards louder ones (time constant 1 s while closed; at most
 *   1 dB/s while open, so a steady loud noise eventually closes the gate);
 * - hysteresis: a window is loud at >= max(floor + 12 dB, -45 dBFS); while open it is quiet below
 *   max(floor + 6 dB, -50 dBFS); the band between keeps the gate open;
 * - start: VAD_START_WINDOWS (4, 80 ms) consecutive loud windows, so clicks under 60 ms never open it;
 * - hangover: the gate closes after VAD_HANGOVER_WINDOWS (20, 400 ms) consecutive quiet windows.
 *
 * push() returns the transitions its samples caused, with absolute sample indices (counted from the
 * first sample ever pushed). A start is back-dated to the first loud window of the run that opened
 * the gate, which can lie up to VAD_START_WINDOWS windows before the current push; a stop is at the
 * end of the window that completed the hangover, always inside the current push.
 */
import {
  VAD_HANGOVER_WINDOWS,
  VAD_INITIAL_FLOOR_MAX_DBFS,
  VAD_MIN_START_DBFS,
  VAD_MIN_STOP_DBFS,
  VAD_SILENCE_DBFS,
  VAD_START_MARGIN_DB,
  VAD_START_WINDOWS,
  VAD_STOP_MARGIN_DB,
  VAD_WINDOW_SAMPLES,
} from "../../config/limits.js";

export interface VadTransition {
  speaking: boolean;
  /** Absolute sample index at which the new state takes effect. */
  atSample: number;
}

/** Share of the gap closed per window when a window is quieter than the floor. */
const FLOOR_FALL_RATIO = 0.5;
/** Share of the gap closed per window when louder, while closed (20 ms / 1 s). */
const FLOOR_RISE_RATIO = 0.02;
/** Most the floor rises per window while open (1 dB/s). */
const FLOOR_RISE_OPEN_MAX_DB = 0.02;

/** What push() returns when its samples changed nothing (shared: no allocation per frame). */
const NO_TRANSITIONS: readonly VadTransition[] = Object.freeze([]);

export class VoiceGate {
  /** Samples of the current window so far, and their running sum and sum of squares. */
  #fill = 0;
  #sum = 0;
  #sumSq = 0;
  /** Samples consumed, including the partial window. */
  #total = 0;
  #floorDb: number | null = null;
  #speaking = false;
  #loudRun = 0;
  #quietRun = 0;
  #lastLevelDb = VAD_SILENCE_DBFS;

  get speaking(): boolean {
    return this.#speaking;
  }

  /** Current noise floor estimate in dBFS (VAD_SILENCE_DBFS before the first window). */
  get noiseFloorDbfs(): number {
    return this.#floorDb ?? VAD_SILENCE_DBFS;
  }

  /** Level of the last complete window in dBFS. */
  get lastLevelDbfs(): number {
    return this.#lastLevelDb;
  }

  /** Total samples pushed so far (the absolute index of the next sample). */
  get samplesSeen(): number {
    return this.#total;
  }

  reset(): void {
    this.#fill = 0;
    this.#sum = 0;
    this.#sumSq = 0;
    this.#total = 0;
    this.#floorDb = null;
    this.#speaking = false;
    this.#loudRun = 0;
    this.#quietRun = 0;
    this.#lastLevelDb = VAD_SILENCE_DBFS;
  }

  /**
   * Feeds 16 kHz mono samples; returns the transitions they caused, oldest first (a shared empty,
   * frozen list when there are none). Each window's level is accumulated as its samples arrive, in
   * the same order windowLevelDbfs() would add them, so it is the same number without a copy.
   */
  push(samples: Float32Array): readonly VadTransition[] {
    let transitions: VadTransition[] | null = null;
    let fill = this.#fill;
    let sum = this.#sum;
    let sumSq = this.#sumSq;
    let i = 0;
    while (i < samples.length) {
      // The rest of the current window, or of the samples: a tight loop, one decision per window.
      const end = Math.min(samples.length, i + VAD_WINDOW_SAMPLES - fill);
      for (let j = i; j < end; j++) {
        const v = samples[j] as number;
        sum += v;
        sumSq += v * v;
      }
      fill += end - i;
      i = end;
      if (fill === VAD_WINDOW_SAMPLES) {
        const transition = this.#decide(levelDbfs(sum, sumSq, fill), this.#total + i);
        if (transition) (transitions ??= []).push(transition);
        fill = 0;
        sum = 0;
        sumSq = 0;
      }
    }
    this.#fill = fill;
    this.#sum = sum;
    this.#sumSq = sumSq;
    this.#total += samples.length;
    return transitions ?? NO_TRANSITIONS;
  }

  /** Classifies one complete window ending at absolute sample windowEnd. */
  #decide(levelDb: number, windowEnd: number): VadTransition | null {
    this.#lastLevelDb = levelDb;
    const floor = this.#floorDb ?? Math.min(levelDb, VAD_INITIAL_FLOOR_MAX_DBFS);
    const startDb = Math.max(floor + VAD_START_MARGIN_DB, VAD_MIN_START_DBFS);
    const stopDb = Math.max(floor + VAD_STOP_MARGIN_DB, VAD_MIN_STOP_DBFS);
    let transition: VadTransition | null = null;
    if (!this.#speaking) {
      this.#loudRun = levelDb >= startDb ? this.#loudRun + 1 : 0;
      if (this.#loudRun >= VAD_START_WINDOWS) {
        this.#speaking = true;
        this.#quietRun = 0;
        transition = { speaking: true, atSample: windowEnd - this.#loudRun * VAD_WINDOW_SAMPLES };
      }
    } else {
      this.#quietRun = levelDb < stopDb ? this.#quietRun + 1 : 0;
      if (this.#quietRun >= VAD_HANGOVER_WINDOWS) {
        this.#speaking = false;
        this.#loudRun = 0;
        transition = { speaking: false, atSample: windowEnd };
      }
    }
    this.#floorDb = nextFloor(floor, levelDb, this.#speaking);
    return transition;
  }
}

function nextFloor(floor: number, levelDb: number, open: boolean): number {
  if (levelDb < floor) return floor + (levelDb - floor) * FLOOR_FALL_RATIO;
  const rise = (levelDb - floor) * FLOOR_RISE_RATIO;
  return floor + (open ? Math.min(rise, FLOOR_RISE_OPEN_MAX_DB) : rise);
}

/** RMS of the window around its mean, in dBFS (20 log10), floored at VAD_SILENCE_DBFS. */
export function windowLevelDbfs(window: Float32Array): number {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < window.length; i++) {
    const v = window[i] as number;
    sum += v;
    sumSq += v * v;
  }
  return levelDbfs(sum, sumSq, window.length);
}

/** The level of `count` samples from their sum and sum of squares (see windowLevelDbfs). */
function levelDbfs(sum: number, sumSq: number, count: number): number {
  const n = count || 1;
  const mean = sum / n;
  const variance = Math.max(0, sumSq / n - mean * mean);
  if (variance === 0) return VAD_SILENCE_DBFS;
  return Math.max(VAD_SILENCE_DBFS, 10 * Math.log10(variance));
}
