/** The measurement helpers the audio tests and the e2e checks rely on must themselves be accurate. */
import { describe, expect, it } from "vitest";
import { dominantFrequencyHz, ratioDb, rms, toneAmplitude } from "../support/audio-analysis";
import { concat, readS16le, s16le, tone, whiteNoise } from "./audio-signals";

describe("dominantFrequencyHz", () => {
  it("finds off-bin tones to within 0.05 Hz", () => {
    for (const [freq, rate] of [
      [440, 16_000],
      [1_234.56, 16_000],
      [97.3, 48_000],
      [7_000.25, 16_000],
    ] as const) {
      expect(Math.abs(dominantFrequencyHz(tone(freq, rate, 1, 0.5, 0.3), rate) - freq)).toBeLessThan(0.05);
    }
  });

  it("reads s16le samples as Int16Array (upstream PCM) the same as floats", () => {
    const pcm = readS16le(s16le(tone(440, 16_000, 3, 0.5)));
    expect(pcm).toBeInstanceOf(Int16Array);
    expect(Math.abs(dominantFrequencyHz(pcm, 16_000) - 440)).toBeLessThan(0.01);
  });

  it("picks the strongest of two tones and works on a 20 ms frame", () => {
    const mix = tone(440, 16_000, 2, 0.5).map((v, i) => v + 0.1 * Math.sin((2 * Math.PI * 3_000 * i) / 16_000));
    expect(dominantFrequencyHz(mix, 16_000)).toBeCloseTo(440, 1);
    expect(Math.abs(dominantFrequencyHz(tone(1_000, 16_000, 0.02, 0.5), 16_000) - 1_000)).toBeLessThan(5);
  });

  it("survives a tone in noise and zero-padded silence", () => {
    const noise = whiteNoise(16_000, 3, -30);
    const noisy = tone(440, 16_000, 3, 0.3).map((v, i) => v + (noise[i] as number));
    expect(Math.abs(dominantFrequencyHz(noisy, 16_000) - 440)).toBeLessThan(0.5);
    const padded = concat(tone(440, 16_000, 1.5, 0.5), new Float32Array(24_000));
    expect(Math.abs(dominantFrequencyHz(padded, 16_000) - 440)).toBeLessThan(0.5);
    expect(dominantFrequencyHz(new Float32Array(2), 16_000)).toBe(0);
  });
});

describe("toneAmplitude, rms, ratioDb", () => {
  it("measures the amplitude of one tone and ignores another", () => {
    const mix = tone(500, 16_000, 1, 0.25).map((v, i) => v + 0.5 * Math.sin((2 * Math.PI * 2_000 * i) / 16_000));
    expect(toneAmplitude(mix, 16_000, 500)).toBeCloseTo(0.25, 2);
    expect(toneAmplitude(mix, 16_000, 2_000)).toBeCloseTo(0.5, 2);
    expect(toneAmplitude(mix, 16_000, 4_000)).toBeLessThan(1e-3);
  });

  it("gives a sine of amplitude 1 an RMS of 1/sqrt(2) and ratios in dB", () => {
    expect(rms(tone(1_000, 16_000, 1, 1))).toBeCloseTo(Math.SQRT1_2, 4);
    expect(rms(new Float32Array(0))).toBe(0);
    expect(ratioDb(0.01, 1)).toBeCloseTo(-40, 10);
    expect(Math.abs(ratioDb(rms(whiteNoise(16_000, 2, -50)), 1) + 50)).toBeLessThan(0.1);
  });
});
