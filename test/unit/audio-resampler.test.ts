/**
 * Resampler to 16 kHz (docs/DESIGN.md §2, §3): frequencies survive, everything above 8 kHz is removed
 * before it can alias, frame boundaries are invisible and the output rate never drifts.
 * The measured figures are printed (look for "measured:").
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Resampler, cachedKernelRates } from "../../src/media/audio/resampler";
import { decodeS16leMono } from "../../src/media/audio/pcm";
import { AudioError, validatePcmFrame } from "../../src/protocol/audio-frames";
import { dominantFrequencyHz, ratioDb, rms, toneAmplitude } from "../support/audio-analysis";
import { AUDIO_INPUT_RATES_HZ, AUDIO_SAMPLE_RATE_HZ } from "../../src/config/limits";
import { concat, frames, tone } from "./audio-signals";

/** Output samples skipped at each end when measuring (filter warm-up and lookahead). */
const SETTLE_SAMPLES = 200;

function resampleInFrames(rateHz: number, signal: Float32Array, frameMs = 20): Float32Array {
  const resampler = new Resampler(rateHz);
  const size = Math.round((rateHz * frameMs) / 1000);
  return concat(...frames(signal, size).map((f) => resampler.push(f)), resampler.flush());
}

function settled(y: Float32Array): Float32Array {
  return y.subarray(SETTLE_SAMPLES, y.length - SETTLE_SAMPLES);
}

describe("Resampler: a 440 Hz tone keeps its frequency and level", () => {
  it.each([48_000, 44_100, 32_000, 24_000, 22_050, 11_025, 8_000, 44_101])("at %i Hz input", (rate) => {
    const input = tone(440, rate, 3, 0.5);
    const output = settled(resampleInFrames(rate, input));
    const freq = dominantFrequencyHz(output, AUDIO_SAMPLE_RATE_HZ);
    const gainDb = ratioDb(toneAmplitude(output, AUDIO_SAMPLE_RATE_HZ, 440), 0.5);
    console.log(`measured: ${rate} Hz -> 16 kHz, 440 Hz tone estimated at ${freq.toFixed(3)} Hz, gain ${gainDb.toFixed(4)} dB`);
    expect(Math.abs(freq - 440)).toBeLessThanOrEqual(5);
    expect(Math.abs(freq - 440)).toBeLessThan(0.05);
    expect(Math.abs(gainDb)).toBeLessThan(0.05);
  });

  it("keeps the pass band flat to within 0.1 dB up to 6.5 kHz (48 kHz input)", () => {
    for (const freq of [100, 1_000, 3_000, 5_000, 6_500]) {
      const output = settled(resampleInFrames(48_000, tone(freq, 48_000, 1, 0.5)));
      const gainDb = ratioDb(rms(output), 0.5 / Math.SQRT2);
      console.log(`measured: pass band ${freq} Hz gain ${gainDb.toFixed(4)} dB`);
      expect(Math.abs(gainDb)).toBeLessThan(0.1);
    }
  });
});

describe("Resampler: anti-aliasing", () => {
  it.each([
    [48_000, 8_500],
    [48_000, 9_000],
    [48_000, 10_000],
    [48_000, 12_000],
    [48_000, 16_500],
    [48_000, 20_000],
    [44_100, 10_000],
    [44_100, 20_000],
    [32_000, 12_000],
    [44_101, 10_000],
  ])("attenuates a tone above 8 kHz by >= 40 dB (%i Hz input, %i Hz tone)", (rate, freq) => {
    const input = tone(freq, rate, 1, 0.5);
    const output = settled(resampleInFrames(rate, input));
    const attenuationDb = -ratioDb(rms(output), rms(input));
    console.log(`measured: ${freq} Hz in ${rate} Hz input attenuated by ${attenuationDb.toFixed(1)} dB`);
    expect(attenuationDb).toBeGreaterThanOrEqual(40);
  });

  it("suppresses the 5 kHz image of a 3 kHz tone when upsampling 8 kHz input by >= 40 dB", () => {
    const output = settled(resampleInFrames(8_000, tone(3_000, 8_000, 1, 0.5)));
    const wanted = toneAmplitude(output, AUDIO_SAMPLE_RATE_HZ, 3_000);
    const image = toneAmplitude(output, AUDIO_SAMPLE_RATE_HZ, 5_000);
    const rejectionDb = ratioDb(wanted, image);
    console.log(`measured: 8 kHz -> 16 kHz image rejection at 5 kHz ${rejectionDb.toFixed(1)} dB`);
    expect(rejectionDb).toBeGreaterThanOrEqual(40);
    expect(dominantFrequencyHz(output, AUDIO_SAMPLE_RATE_HZ)).toBeCloseTo(3_000, 1);
  });
});

describe("Resampler: streaming", () => {
  it("gives bit-identical output for 20 ms frames and for one push (44.1 kHz, 48 kHz)", () => {
    for (const rate of [44_100, 48_000]) {
      const input = concat(tone(440, rate, 0.5, 0.4), tone(3_000, rate, 0.5, 0.2));
      const oneShot = new Resampler(rate);
      const whole = concat(oneShot.push(input), oneShot.flush());
      expect(resampleInFrames(rate, input)).toEqual(whole);
    }
  });

  it("gives identical output for any split of the input (property)", () => {
    const input = tone(700, 22_050, 0.2, 0.3);
    const reference = new Resampler(22_050).push(input);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 20 }), (sizes) => {
        const r = new Resampler(22_050);
        const parts: Float32Array[] = [];
        let at = 0;
        for (const size of sizes) {
          parts.push(r.push(input.subarray(at, Math.min(input.length, at + size))));
          at = Math.min(input.length, at + size);
        }
        parts.push(r.push(input.subarray(at)));
        const output = concat(...parts);
        expect(output.length).toBe(reference.length);
        expect(output.every((v, i) => Object.is(v, reference[i]))).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it("produces exactly ceil(N * 16000 / rate) samples (one per output instant before the input ends) over 60 s: no drift", () => {
    for (const rate of [48_000, 8_000, 44_101]) {
      const n = rate * 60;
      const r = new Resampler(rate);
      const frame = new Float32Array(Math.round(rate / 50));
      let produced = 0;
      let fed = 0;
      let worstLag = -Infinity;
      while (fed < n) {
        const size = Math.min(frame.length, n - fed);
        produced += r.push(frame.subarray(0, size)).length;
        fed += size;
        worstLag = Math.max(worstLag, fed * (16_000 / rate) - produced);
      }
      // Lag behind the ideal count is bounded by the filter lookahead, at every step.
      expect(worstLag).toBeLessThanOrEqual(r.lookaheadSamples * (16_000 / rate) + 1);
      produced += r.flush().length;
      expect(produced).toBe(Math.ceil((n * 16_000) / rate));
      expect(produced).toBe(960_000);
    }
  });

  it("passes 16 kHz input through unchanged", () => {
    const input = tone(440, 16_000, 0.1, 0.5);
    const r = new Resampler(16_000);
    expect(r.push(input)).toEqual(input);
    expect(r.lookaheadSamples).toBe(0);
    expect(r.flush().length).toBe(0);
  });

  it("has unit DC gain and restarts from silence after reset()", () => {
    const r = new Resampler(44_100);
    const dc = new Float32Array(4_410).fill(0.25);
    const first = r.push(dc);
    for (const v of first.subarray(SETTLE_SAMPLES)) expect(v).toBeCloseTo(0.25, 5);
    r.reset();
    expect(r.push(dc)).toEqual(new Resampler(44_100).push(dc));
  });

  it("rejects a non-integer or non-positive rate", () => {
    expect(() => new Resampler(0)).toThrow(RangeError);
    expect(() => new Resampler(44_100.5)).toThrow(RangeError);
  });
});

describe("kernels: a fixed set, built once per isolate, never evicted by a client", () => {
  it("only the accepted rates pass validation, so a client can only ever use their kernels", () => {
    for (const rate of AUDIO_INPUT_RATES_HZ) expect(() => validatePcmFrame({ sampleRate: rate, channels: 1, data: new Uint8Array(2) }), String(rate)).not.toThrow();
    for (const rate of [7_999, 8_001, 11_024, 44_101, 47_999, 48_001, 96_000, 0, -16_000, 16_000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => validatePcmFrame({ sampleRate: rate, channels: 1, data: new Uint8Array(2) }), String(rate)).toThrow(AudioError);
    }
  });

  it("the cache holds at most the accepted rates: odd rates (never from a client) are not cached and evict nothing", () => {
    for (const rate of AUDIO_INPUT_RATES_HZ) new Resampler(rate);
    const common = AUDIO_INPUT_RATES_HZ.filter((r) => r !== 16_000);
    expect(cachedKernelRates()).toEqual(common);
    for (const rate of [8_001, 9_000, 10_000, 13_000, 17_000, 19_000, 23_000, 25_000, 44_101, 47_000]) new Resampler(rate);
    expect(cachedKernelRates()).toEqual(common);
    // A kernel is designed once: a second resampler at a cached rate costs no design time.
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) new Resampler(44_100);
    expect(performance.now() - t0).toBeLessThan(50);
  });
});

describe("pushS16le: the audio path's allocation-free entry", () => {
  /** s16le noise-like speech at `rate`, `channels` interleaved, starting at byte `offset` of its buffer. */
  function s16le(rate: number, channels: number, seconds: number, offset: number): Uint8Array {
    const n = Math.round(rate * seconds);
    const bytes = new Uint8Array(offset + n * channels * 2).subarray(offset);
    let seed = rate + channels;
    for (let i = 0; i < n * channels; i++) {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      const v = Math.round(12_000 * Math.sin((2 * Math.PI * 150 * i) / rate) + ((seed % 4_001) - 2_000));
      bytes[2 * i] = v & 0xff;
      bytes[2 * i + 1] = (v >> 8) & 0xff;
    }
    return bytes;
  }

  it.each(AUDIO_INPUT_RATES_HZ.flatMap((rate) => [[rate, 1], [rate, 2]]))(
    "%i Hz, %i channel(s): the same samples, bit for bit, as push(decodeS16leMono(...)), at even and odd offsets",
    (rate, channels) => {
      const frameBytes = Math.round(rate * 0.02) * channels * 2;
      for (const offset of [0, 1]) {
        const data = s16le(rate, channels, 0.5, offset);
        const viaPush = new Resampler(rate);
        const viaS16 = new Resampler(rate);
        for (let at = 0; at + frameBytes <= data.length; at += frameBytes) {
          const frame = data.subarray(at, at + frameBytes);
          const expected = viaPush.push(decodeS16leMono(frame, channels));
          expect(Array.from(viaS16.pushS16le(frame, channels))).toEqual(Array.from(expected));
        }
        expect(Array.from(viaS16.flush())).toEqual(Array.from(viaPush.flush()));
      }
    },
  );
});
