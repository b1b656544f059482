/** Synthetic test signals for the audio unit tests (deterministic). */

/** A sine of the given amplitude (1 = full scale). */
export function tone(freqHz: number, rateHz: number, seconds: number, amplitude = 0.5, phase = 0): Float32Array {
  const n = Math.round(seconds * rateHz);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freqHz * i) / rateHz + phase);
  return out;
}

/**
 * Speech-like burst: a 140 Hz harmonic voice (8 harmonics, falling 1/k) amplitude-modulated at a
 * syllable rate (raised cosine, 0 at the start of each syllable), with a slow pitch wobble.
 */
export function speechLike(rateHz: number, seconds: number, peak = 0.3, syllableHz = 4): Float32Array {
  const n = Math.round(seconds * rateHz);
  const out = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rateHz;
    const f0 = 140 * (1 + 0.05 * Math.sin(2 * Math.PI * 0.7 * t));
    phase += (2 * Math.PI * f0) / rateHz;
    let v = 0;
    for (let k = 1; k <= 8; k++) v += Math.sin(k * phase) / k;
    const envelope = 0.5 - 0.5 * Math.cos(2 * Math.PI * syllableHz * t);
    out[i] = (peak / 2) * envelope * v;
  }
  return out;
}

/** Uniform white noise with the given RMS level in dBFS (seeded, reproducible). */
export function whiteNoise(rateHz: number, seconds: number, dbfs: number, seed = 1): Float32Array {
  const n = Math.round(seconds * rateHz);
  const out = new Float32Array(n);
  const amplitude = 10 ** (dbfs / 20) * Math.sqrt(3); // uniform on [-a, a] has RMS a / sqrt(3)
  let state = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = amplitude * ((state >>> 0) / 0x100000000 * 2 - 1);
  }
  return out;
}

export function silence(rateHz: number, seconds: number): Float32Array {
  return new Float32Array(Math.round(seconds * rateHz));
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits a signal into consecutive pieces of `size` samples (the last may be shorter). */
export function frames(signal: Float32Array, size: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < signal.length; i += size) out.push(signal.subarray(i, i + size));
  return out;
}

/** Interleaved s16le bytes; the right channel is `right` (defaults to the left). Clamped. */
export function s16le(left: Float32Array, right?: Float32Array): Uint8Array {
  const channels = right ? 2 : 1;
  const view = new DataView(new ArrayBuffer(left.length * 2 * channels));
  const q = (x: number): number => Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
  for (let i = 0; i < left.length; i++) {
    view.setInt16(i * 2 * channels, q(left[i] as number), true);
    if (right) view.setInt16(i * 4 + 2, q(right[i] as number), true);
  }
  return new Uint8Array(view.buffer);
}

/** Reads s16le bytes back as Int16 samples (explicitly little-endian). */
export function readS16le(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}
