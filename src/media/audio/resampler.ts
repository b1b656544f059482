/**
 * Streaming resampler from any input rate to 16 kHz (docs/DESIGN.md §4.4) with a real
 * anti-aliasing filter: a Kaiser-windowed sinc evaluated in polyphase form.
 *
 * Output sample n sits at input position n * rateIn / 16000, kept as an exact integer base plus
 * phase / L (L = 16000 / gcd), so the output never drifts. Its value is the dot product of the input
 * around that position with the kernel row for that phase. When a rate pair needs more than
 * RESAMPLER_MAX_EXACT_PHASES rows (e.g. 44101 Hz), rows are linearly interpolated from a
 * RESAMPLER_TABLE_PHASES-row table instead.
 *
 * The low-pass cuts at the lower of the two Nyquist rates: when downsampling, the stop band starts at
 * 8 kHz (nothing above it aliases into the output); when upsampling from 8 kHz, at 4 kHz (no images).
 * The filter looks ahead about 2 ms of input (4 ms at 8 kHz); the output is aligned with the input
 * in time (no group delay), the lookahead is only latency. History is kept across push() calls, so
 * frame boundaries are invisible: frame-by-frame output equals one-shot output bit for bit.
 */
import {
  AUDIO_INPUT_RATES_HZ,
  AUDIO_SAMPLE_RATE_HZ,
  RESAMPLER_MAX_EXACT_PHASES,
  RESAMPLER_STOPBAND_DB,
  RESAMPLER_TABLE_PHASES,
  RESAMPLER_TRANSITION_RATIO,
} from "../../config/limits.js";
import { decodeS16leMonoInto } from "./pcm.js";

/** Polyphase kernel for one rate pair. */
interface Kernel {
  /** Output step in input samples is m / l (reduced fraction). */
  l: number;
  m: number;
  /** Taps reach k from base - halfTaps + 1 to base + halfTaps. */
  halfTaps: number;
  taps: number;
  /** Rows in the table; rows === l means exact phases, otherwise rows + 1 rows interpolated. */
  rows: number;
  exact: boolean;
  /**
   * One exact phase whose row is symmetric around tap halfTaps - 1 and whose last tap is zero (checked
   * on the designed table, not assumed): the dot product folds into halfTaps multiplications.
   */
  symmetric: boolean;
  table: Float32Array;
}

/**
 * Kernels are pure functions of the input rate, shared by every resampler in the isolate. The
 * accepted client rates are a fixed set (AUDIO_INPUT_RATES_HZ): each of their kernels is designed
 * once per isolate, on first use, and kept for good, so no client can evict another's or make the
 * isolate design new ones. Any other rate (only reachable from code, never from a client, since
 * validatePcmFrame refuses it) gets a kernel of its own that is not cached.
 */
const kernelCache = new Map<number, Kernel>();

export class Resampler {
  readonly inputRateHz: number;
  readonly outputRateHz = AUDIO_SAMPLE_RATE_HZ;
  readonly #kernel: Kernel | null;
  /** Input history; #buf[0] is absolute input index #start. */
  #buf = new Float32Array(0);
  /** Output of the last call, reused (push() copies out of it, pushS16le() hands out a view). */
  #out = new Float32Array(0);
  #len = 0;
  #start = 0;
  /** Position of the next output: input index #base + #phase / l. */
  #base = 0;
  #phase = 0;

  /** inputRateHz: a positive integer; 16000 is passed through unchanged. */
  constructor(inputRateHz: number) {
    if (!Number.isInteger(inputRateHz) || inputRateHz <= 0)
      throw new RangeError(`input rate must be a positive integer, got ${inputRateHz}`);
    this.inputRateHz = inputRateHz;
    this.#kernel = inputRateHz === AUDIO_SAMPLE_RATE_HZ ? null : kernelFor(inputRateHz);
    this.reset();
  }

  /** Input samples the filter waits for beyond an output's position (its latency). */
  get lookaheadSamples(): number {
    return this.#kernel?.halfTaps ?? 0;
  }

  /** Forgets all history, as if newly created (the next push starts from silence). */
  reset(): void {
    const k = this.#kernel;
    const pad = k ? k.halfTaps - 1 : 0;
    this.#buf = new Float32Array(Math.max(pad, 1024));
    this.#len = pad;
    this.#start = -pad;
    this.#base = 0;
    this.#phase = 0;
  }

  /** Feeds input samples and returns every 16 kHz output sample that is now fully determined. */
  push(input: Float32Array): Float32Array {
    if (!this.#kernel) return input.slice();
    this.#reserve(input.length);
    this.#buf.set(input, this.#len);
    this.#len += input.length;
    const n = this.#run(); // first: it may replace #out with a larger buffer
    return this.#out.slice(0, n);
  }

  /**
   * push() for an s16le payload (validated: whole frames of `channels` samples), decoded and downmixed
   * straight into the history, without an allocation per call. Returns a view of the new 16 kHz
   * output that is valid only until the next call on this resampler (copy what must outlive it).
   * Same output, bit for bit, as push(decodeS16leMono(data, channels)).
   */
  pushS16le(data: Uint8Array, channels: number): Float32Array {
    const count = Math.floor(data.byteLength / (2 * channels));
    if (!this.#kernel) {
      if (this.#out.length < count) this.#out = new Float32Array(Math.max(count, 2 * this.#out.length));
      decodeS16leMonoInto(data, channels, this.#out, 0);
      return this.#out.subarray(0, count);
    }
    this.#reserve(count);
    this.#len += decodeS16leMonoInto(data, channels, this.#buf, this.#len);
    const n = this.#run();
    return this.#out.subarray(0, n);
  }

  /** Computes every output the history now determines into #out; returns how many. */
  #run(): number {
    const k = this.#kernel as Kernel;
    const end = this.#start + this.#len;
    const { l, m, halfTaps, taps, table } = k;
    const bound = Math.max(0, Math.ceil(((end - this.#base) * l) / m) + 1);
    if (this.#out.length < bound) this.#out = new Float32Array(Math.max(bound, 2 * this.#out.length));
    const out = this.#out;
    const buf = this.#buf;
    let n = 0;
    let base = this.#base;
    let phase = this.#phase;
    while (base + halfTaps < end) {
      const first = base - halfTaps + 1 - this.#start;
      let acc = 0;
      if (k.symmetric) {
        // One phase with a symmetric kernel (48 and 32 kHz input): taps j and taps - 2 - j share a
        // coefficient, so each pair costs one multiplication; the last tap is zero.
        const centre = halfTaps - 1;
        for (let j = 0, mirror = first + taps - 2; j < centre; j++, mirror--)
          acc += (table[j] as number) * ((buf[first + j] as number) + (buf[mirror] as number));
        acc += (table[centre] as number) * (buf[first + centre] as number);
      } else if (k.exact) {
        const row = phase * taps;
        for (let j = 0; j < taps; j++) acc += (buf[first + j] as number) * (table[row + j] as number);
      } else {
        const scaled = phase * k.rows;
        const index = Math.floor(scaled / l);
        const w = (scaled - index * l) / l;
        const r0 = index * taps;
        const r1 = r0 + taps;
        for (let j = 0; j < taps; j++) {
          const c = (table[r0 + j] as number) + w * ((table[r1 + j] as number) - (table[r0 + j] as number));
          acc += (buf[first + j] as number) * c;
        }
      }
      out[n++] = acc;
      phase += m;
      if (phase >= l) {
        base += Math.floor(phase / l);
        phase %= l;
      }
    }
    this.#base = base;
    this.#phase = phase;
    this.#discardBefore(base - halfTaps + 1);
    return n;
  }

  /** Emits the outputs still waiting for lookahead (as if the input continued with silence), then resets. */
  flush(): Float32Array {
    const k = this.#kernel;
    if (!k) return new Float32Array(0);
    const tail = this.push(new Float32Array(k.halfTaps));
    this.reset();
    return tail;
  }

  /** Room in the history for `count` more samples. */
  #reserve(count: number): void {
    const needed = this.#len + count;
    if (needed > this.#buf.length) {
      const grown = new Float32Array(Math.max(needed, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
  }

  #discardBefore(index: number): void {
    const drop = index - this.#start;
    if (drop <= 0) return;
    this.#buf.copyWithin(0, drop, this.#len);
    this.#len -= drop;
    this.#start = index;
  }
}

function kernelFor(inputRateHz: number): Kernel {
  const cached = kernelCache.get(inputRateHz);
  if (cached) return cached;
  const kernel = designKernel(inputRateHz, AUDIO_SAMPLE_RATE_HZ);
  if (AUDIO_INPUT_RATES_HZ.includes(inputRateHz)) kernelCache.set(inputRateHz, kernel);
  return kernel;
}

/** Rates whose kernels this isolate holds (at most the accepted set: tests and the snapshot read it). */
export function cachedKernelRates(): number[] {
  return [...kernelCache.keys()].sort((a, b) => a - b);
}

/** Designs the Kaiser-windowed sinc polyphase table for rateIn -> rateOut. */
function designKernel(rateIn: number, rateOut: number): Kernel {
  const g = gcd(rateIn, rateOut);
  const l = rateOut / g;
  const m = rateIn / g;
  const nyquistHz = Math.min(rateIn, rateOut) / 2;
  const transitionHz = RESAMPLER_TRANSITION_RATIO * nyquistHz;
  const cutoffHz = nyquistHz - transitionHz / 2;
  const attenuation = RESAMPLER_STOPBAND_DB;
  const beta = 0.1102 * (attenuation - 8.7);
  // Kaiser's estimate of the filter length, in seconds, then in input samples either side.
  const lengthS = (attenuation - 8) / (2.285 * 2 * Math.PI * transitionHz);
  const halfWidth = (lengthS / 2) * rateIn;
  const halfTaps = Math.ceil(halfWidth);
  const taps = 2 * halfTaps;
  const exact = l <= RESAMPLER_MAX_EXACT_PHASES;
  const rows = exact ? l : RESAMPLER_TABLE_PHASES;
  const rowCount = exact ? rows : rows + 1;
  const fc = cutoffHz / rateIn; // cycles per input sample
  const i0Beta = besselI0(beta);
  const table = new Float32Array(rowCount * taps);
  const row = new Float64Array(taps);
  for (let r = 0; r < rowCount; r++) {
    const frac = r / rows;
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const d = frac + halfTaps - 1 - j; // output position minus tap position, in input samples
      const x = d / halfWidth;
      const w = Math.abs(x) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - x * x)) / i0Beta;
      const v = 2 * fc * sinc(2 * fc * d) * w;
      row[j] = v;
      sum += v;
    }
    // Unit DC gain for every phase, so a constant input stays exactly constant.
    for (let j = 0; j < taps; j++) table[r * taps + j] = (row[j] as number) / sum;
  }
  return { l, m, halfTaps, taps, rows, exact, symmetric: rowCount === 1 && isSymmetric(table), table };
}

/** Whether a single-row table has t[j] === t[taps - 2 - j] for every j and a zero last tap. */
function isSymmetric(table: Float32Array): boolean {
  const taps = table.length;
  if (table[taps - 1] !== 0) return false;
  for (let j = 0; j < taps - 1; j++) if (table[j] !== table[taps - 2 - j]) return false;
  return true;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const half = x / 2;
  for (let k = 1; k < 64; k++) {
    term *= (half / k) * (half / k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
