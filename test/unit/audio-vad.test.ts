/**
 * Built-in voice gate (docs/DESIGN.md §4) on synthetic 16 kHz signals: speech-like bursts open it,
 * silence, low noise and clicks never do, hysteresis keeps it open and the hangover closes it.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { VoiceGate, windowLevelDbfs, type VadTransition } from "../../src/media/audio/vad";
import { VAD_HANGOVER_WINDOWS, VAD_WINDOW_SAMPLES } from "../../src/config/limits";
import { concat, frames, silence, speechLike, tone, whiteNoise } from "./audio-signals";

const RATE = 16_000;
const HANGOVER_SAMPLES = VAD_HANGOVER_WINDOWS * VAD_WINDOW_SAMPLES;

/** Runs a signal through a fresh gate in 20 ms frames (or the given size) and returns all transitions. */
function transitionsOf(signal: Float32Array, frameSize = 320): VadTransition[] {
  const gate = new VoiceGate();
  return frames(signal, frameSize).flatMap((f) => gate.push(f));
}

const seconds = (s: number): number => Math.round(s * RATE);

describe("VoiceGate opens on speech", () => {
  it("opens within 150 ms of a speech-like burst after silence and closes within hangover + a window of its end", () => {
    const signal = concat(silence(RATE, 1), speechLike(RATE, 2), silence(RATE, 1.5));
    const t = transitionsOf(signal);
    expect(t.map((x) => x.speaking)).toEqual([true, false]);
    const [start, stop] = t as [VadTransition, VadTransition];
    console.log(
      `measured: speech onset at 1000 ms -> gate opens at ${(start.atSample / 16).toFixed(0)} ms; ` +
        `burst ends at 3000 ms -> gate closes at ${(stop.atSample / 16).toFixed(0)} ms`,
    );
    expect(start.atSample).toBeGreaterThanOrEqual(seconds(1));
    expect(start.atSample).toBeLessThanOrEqual(seconds(1.15));
    expect(stop.atSample).toBeGreaterThan(seconds(3));
    expect(stop.atSample).toBeLessThanOrEqual(seconds(3) + HANGOVER_SAMPLES + VAD_WINDOW_SAMPLES);
  });

  it.each([3, 4, 5])("stays open through the syllables of a %i Hz speech-like burst", (syllableHz) => {
    const t = transitionsOf(concat(silence(RATE, 0.5), speechLike(RATE, 3, 0.3, syllableHz), silence(RATE, 1)));
    expect(t.map((x) => x.speaking)).toEqual([true, false]);
  });

  it("opens on quiet speech (peak -20 dBFS) over -50 dBFS noise", () => {
    const speech = concat(silence(RATE, 2), speechLike(RATE, 2, 0.1), silence(RATE, 2));
    const noise = whiteNoise(RATE, 6, -50, 7);
    const t = transitionsOf(speech.map((v, i) => v + (noise[i] as number)));
    expect(t.map((x) => x.speaking)).toEqual([true, false]);
    expect((t[0] as VadTransition).atSample).toBeGreaterThanOrEqual(seconds(2));
  });

  it("stays open across a 300 ms pause (hangover) but closes and reopens across a 700 ms one", () => {
    const word = (): Float32Array => speechLike(RATE, 0.5);
    expect(transitionsOf(concat(silence(RATE, 0.5), word(), silence(RATE, 0.3), word(), silence(RATE, 1))).map((x) => x.speaking)).toEqual([
      true,
      false,
    ]);
    expect(transitionsOf(concat(silence(RATE, 0.5), word(), silence(RATE, 0.7), word(), silence(RATE, 1))).map((x) => x.speaking)).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it("opens on a loud steady tone after silence and stays open for its 7 s", () => {
    const t = transitionsOf(concat(silence(RATE, 1), tone(440, RATE, 7, 0.5), silence(RATE, 1)));
    expect(t.map((x) => x.speaking)).toEqual([true, false]);
    expect((t[1] as VadTransition).atSample).toBeGreaterThan(seconds(8));
  });
});

describe("VoiceGate stays closed", () => {
  it("on 10 s of digital silence", () => {
    const gate = new VoiceGate();
    expect(frames(silence(RATE, 10), 320).flatMap((f) => gate.push(f))).toEqual([]);
    expect(gate.noiseFloorDbfs).toBe(-100);
  });

  it("on -50 dBFS white noise, from the start or after silence", () => {
    expect(transitionsOf(whiteNoise(RATE, 10, -50, 3))).toEqual([]);
    expect(transitionsOf(concat(silence(RATE, 2), whiteNoise(RATE, 10, -50, 4)))).toEqual([]);
  });

  it("on stationary -40 dBFS noise present from the start (adaptive floor)", () => {
    const gate = new VoiceGate();
    expect(frames(whiteNoise(RATE, 10, -40, 5), 320).flatMap((f) => gate.push(f))).toEqual([]);
    expect(gate.noiseFloorDbfs).toBeGreaterThan(-41);
  });

  it("on a DC offset", () => {
    expect(transitionsOf(new Float32Array(seconds(3)).fill(0.3))).toEqual([]);
  });

  it("on full-scale clicks shorter than 40 ms at any alignment (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: seconds(0.04) - 1 }),
        fc.integer({ min: 0, max: 2 * VAD_WINDOW_SAMPLES }),
        fc.integer({ min: 1, max: 500 }),
        (clickSamples, offset, frameSize) => {
          const click = tone(1_000, RATE, clickSamples / RATE, 0.9);
          const gap = silence(RATE, 0.3);
          const signal = concat(silence(RATE, 0.5), new Float32Array(offset), click, gap, click, gap, click, gap);
          expect(transitionsOf(signal, frameSize)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("on a tone between the stop and start thresholds, which only keeps an open gate open (hysteresis)", () => {
    const between = tone(440, RATE, 3, 10 ** (-47 / 20) * Math.SQRT2); // -47 dBFS RMS: below -45, above -50
    expect(transitionsOf(concat(silence(RATE, 1), between))).toEqual([]);
    const t = transitionsOf(concat(silence(RATE, 1), speechLike(RATE, 1), between, silence(RATE, 1)));
    expect(t.map((x) => x.speaking)).toEqual([true, false]);
    expect((t[1] as VadTransition).atSample).toBeGreaterThan(seconds(5));
  });
});

describe("VoiceGate streaming", () => {
  it("gives the same transitions for any frame size (property)", () => {
    const signal = concat(silence(RATE, 0.4), speechLike(RATE, 0.8), silence(RATE, 0.6));
    const reference = transitionsOf(signal, 320);
    expect(reference.length).toBe(2);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4_000 }), (size) => {
        expect(transitionsOf(signal, size)).toEqual(reference);
      }),
      { numRuns: 30 },
    );
  });

  it("back-dates a start by at most 4 windows before the push that decided it", () => {
    const gate = new VoiceGate();
    gate.push(silence(RATE, 0.5));
    const before = gate.samplesSeen;
    let start: VadTransition | undefined;
    for (const f of frames(speechLike(RATE, 1), 160)) {
      const pushedFrom = gate.samplesSeen;
      const t = gate.push(f).find((x) => x.speaking);
      if (t) {
        start = t;
        expect(t.atSample).toBeGreaterThan(pushedFrom - 4 * VAD_WINDOW_SAMPLES);
        break;
      }
    }
    expect(start?.atSample).toBeGreaterThanOrEqual(before);
    expect(gate.speaking).toBe(true);
  });

  it("reset() forgets state", () => {
    const gate = new VoiceGate();
    gate.push(concat(silence(RATE, 0.5), speechLike(RATE, 0.5)));
    expect(gate.speaking).toBe(true);
    gate.reset();
    expect(gate.speaking).toBe(false);
    expect(gate.samplesSeen).toBe(0);
  });
});

describe("windowLevelDbfs", () => {
  it("reads a full-scale sine as -3 dBFS, silence as -100 and ignores DC", () => {
    expect(windowLevelDbfs(tone(1_000, RATE, 0.02, 1))).toBeCloseTo(-3.01, 1);
    expect(windowLevelDbfs(new Float32Array(320))).toBe(-100);
    const withDc = tone(1_000, RATE, 0.02, 0.1).map((v) => v + 0.5);
    expect(windowLevelDbfs(withDc)).toBeCloseTo(windowLevelDbfs(tone(1_000, RATE, 0.02, 0.1)), 3);
  });
});
