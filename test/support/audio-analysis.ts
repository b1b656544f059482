/**
 * Small signal measurements used by the audio tests and the e2e checks of upstream PCM: dominant
 * frequency, the amplitude of one tone, RMS level. Pure and allocation-light; not on the hot path.
 */

/** Longest prefix analysed by dominantFrequencyHz (2^18 samples, 5.5 s at 48 kHz). */
const MAX_ANALYSIS_SAMPLES = 1 << 18;

type Samples = Int16Array | Float32Array | Float64Array;

/**
 * Frequency (Hz) of the strongest spectral peak above DC: a Hann-windowed FFT finds the peak bin,
 * then a golden-section search of the windowed DTFT magnitude refines it to a small fraction of a
 * bin. Int16 input is fine: the scale does not matter. Returns 0 for fewer than 4 samples.
 */
export function dominantFrequencyHz(samples: Samples, rateHz: number): number {
  const count = Math.min(samples.length, MAX_ANALYSIS_SAMPLES);
  if (count < 4) return 0;
  const x = hannWindowed(samples, count);
  let size = 1;
  while (size < count) size <<= 1;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  re.set(x);
  fft(re, im);
  let peak = 1;
  let peakPower = -1;
  for (let bin = 1; bin < size / 2; bin++) {
    const p = (re[bin] as number) ** 2 + (im[bin] as number) ** 2;
    if (p > peakPower) {
      peakPower = p;
      peak = bin;
    }
  }
  // Refine within +-1 padded bin: inside the Hann main lobe (+-2 bins of the unpadded length).
  const lo = Math.max(0, (peak - 1) / size);
  const hi = Math.min(0.5, (peak + 1) / size);
  const cycles = goldenMax((f) => dtftPower(x, f), lo, hi, 1e-4 / count);
  return cycles * rateHz;
}

/** Amplitude of the sinusoid at freqHz (a full-scale sine gives about 1 for floats), via a Hann-windowed DTFT. */
export function toneAmplitude(samples: Samples, rateHz: number, freqHz: number): number {
  const count = samples.length;
  if (count === 0) return 0;
  const x = hannWindowed(samples, count);
  // A Hann window has mean 0.5, so a sine of amplitude A gives |X| = A * count / 4.
  return (Math.sqrt(dtftPower(x, freqHz / rateHz)) * 4) / count;
}

/** Root mean square of the samples (0 for none). */
export function rms(samples: Samples): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += (samples[i] as number) ** 2;
  return Math.sqrt(sum / samples.length);
}

/** Level in dB of a relative to b (20 log10). */
export function ratioDb(a: number, b: number): number {
  return 20 * Math.log10(a / b);
}

function hannWindowed(samples: Samples, count: number): Float64Array {
  const x = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    x[i] = (samples[i] as number) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (count - 1 || 1)));
  }
  return x;
}

/** |X(f)|^2 at f cycles per sample, by a rotating phasor (one multiply-add pair per sample). */
function dtftPower(x: Float64Array, f: number): number {
  const c = Math.cos(2 * Math.PI * f);
  const s = Math.sin(2 * Math.PI * f);
  let pr = 1;
  let pi = 0;
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    re += v * pr;
    im -= v * pi;
    const nr = pr * c - pi * s;
    pi = pr * s + pi * c;
    pr = nr;
    if ((i & 1023) === 1023) {
      // Renormalise the phasor so rounding does not grow over long inputs.
      const norm = Math.hypot(pr, pi);
      pr /= norm;
      pi /= norm;
    }
  }
  return re * re + im * im;
}

/** Argmax of a unimodal function on [lo, hi] to within tol. */
function goldenMax(fn: (x: number) => number, lo: number, hi: number, tol: number): number {
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = fn(c);
  let fd = fn(d);
  for (let i = 0; i < 200 && b - a > tol; i++) {
    if (fc > fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - ratio * (b - a);
      fc = fn(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + ratio * (b - a);
      fd = fn(d);
    }
  }
  return (a + b) / 2;
}

/** In-place iterative radix-2 FFT; re.length must be a power of two. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j] as number, re[i] as number];
      [im[i], im[j]] = [im[j] as number, im[i] as number];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = (re[b] as number) * cr - (im[b] as number) * ci;
        const ti = (re[b] as number) * ci + (im[b] as number) * cr;
        re[b] = (re[a] as number) - tr;
        im[b] = (im[a] as number) - ti;
        re[a] = (re[a] as number) + tr;
        im[a] = (im[a] as number) + ti;
        const nr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = nr;
      }
    }
  }
}
