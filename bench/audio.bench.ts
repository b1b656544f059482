/**
 * Audio path: CPU per 20 ms frame and stop-band rejection of the 48 kHz -> 16 kHz resampler, against a
 * naive baseline (linear interpolation, what a quick port would do), plus the full AudioIngest path.
 */
import { AudioIngest } from "../src/media/audio/audio-ingest.js";
import { rms, ratioDb } from "../test/support/audio-analysis.js";
import { Resampler } from "../src/media/audio/resampler.js";
import { table, timeMs } from "./harness.js";

const IN_HZ = 48_000;
const FRAME = 960; // 20 ms

function tone(freqHz: number, seconds: number): Float32Array {
  const out = new Float32Array(IN_HZ * seconds);
  for (let i = 0; i < out.length; i++) out[i] = 0.5 * Math.sin((2 * Math.PI * freqHz * i) / IN_HZ);
  return out;
}

/** Baseline: linear interpolation at the output positions, no low-pass. */
function linear(input: Float32Array): Float32Array {
  const step = IN_HZ / 16_000;
  const out = new Float32Array(Math.floor(input.length / step));
  for (let i = 0; i < out.length; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const f = x - j;
    out[i] = (input[j] ?? 0) * (1 - f) + (input[j + 1] ?? 0) * f;
  }
  return out;
}

function sinc(input: Float32Array): Float32Array {
  const r = new Resampler(IN_HZ);
  const parts: Float32Array[] = [];
  for (let i = 0; i < input.length; i += FRAME) parts.push(r.push(input.subarray(i, i + FRAME)));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

const rows: Array<Array<string | number>> = [];
for (const [name, fn] of [["linear interpolation [baseline]", linear], ["ours: Kaiser-windowed sinc", sinc]] as const) {
  const rejection = [10_000, 12_000, 20_000].map((f) => {
    const input = tone(f, 1);
    const out = fn(input).subarray(2_000); // skip the filter's warm-up
    return -ratioDb(rms(out), rms(input));
  });
  const second = tone(440, 1);
  const msPerFrame = timeMs(20, () => fn(second)) / (IN_HZ / FRAME);
  rows.push([name, msPerFrame * 1000, ...rejection.map((db) => `${db.toFixed(1)} dB`)]);
}
table("48 kHz -> 16 kHz: CPU per 20 ms frame and rejection of tones that would alias", ["resampler", "µs/frame", "10 kHz", "12 kHz", "20 kHz"], rows);

// The whole per-frame audio path: validate, downmix stereo, resample, voice gate, chunk.
const stereo = new Uint8Array(FRAME * 4);
const view = new DataView(stereo.buffer);
for (let i = 0; i < FRAME; i++) {
  const v = Math.round(12_000 * Math.sin((2 * Math.PI * 440 * i) / IN_HZ));
  view.setInt16(i * 4, v, true);
  view.setInt16(i * 4 + 2, v, true);
}
const ingest = new AudioIngest({ intervalMs: 0 });
let t = 0;
const perFrameUs = timeMs(3_000, () => ingest.pushFrame({ trackId: "mic", sampleRate: IN_HZ, channels: 2, data: stereo }, (t += 20))) * 1000;
table("AudioIngest per 20 ms frame (48 kHz stereo s16le, built-in gate)", ["path", "µs/frame", "share of real time"], [
  ["validate + downmix + resample + gate + chunk", perFrameUs, `${((perFrameUs / 20_000) * 100).toFixed(2)} %`],
]);
