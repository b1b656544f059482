import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { VideoSampler } from "../../src/shared/sampler";

/** Offers every timestamp and returns those taken. */
function takenAt(sampler: VideoSampler, timestampsMs: readonly number[]): number[] {
  return timestampsMs.filter((t) => sampler.offer(t));
}

/** Timestamps of a source at `sourceFps` for `durationMs`, starting at `startMs`. */
function source(sourceFps: number, durationMs: number, startMs = 0): number[] {
  const periodMs = 1000 / sourceFps;
  const count = Math.ceil(durationMs / periodMs);
  return Array.from({ length: count }, (_, i) => startMs + i * periodMs);
}

/** Deterministic pseudo-random numbers in [0, 1) so the jitter test is reproducible. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("VideoSampler rates", () => {
  it("samples a 15 fps source at 0.2 fps as 12 frames a minute", () => {
    const taken = takenAt(new VideoSampler(0.2), source(15, 60_000));
    expect(taken.length).toBeGreaterThanOrEqual(11);
    expect(taken.length).toBeLessThanOrEqual(13);
    expect(taken[0]).toBe(0);
  });

  it("samples a 15 fps source at 1 fps as 60 frames a minute", () => {
    const taken = takenAt(new VideoSampler(1), source(15, 60_000));
    expect(taken.length).toBeGreaterThanOrEqual(59);
    expect(taken.length).toBeLessThanOrEqual(61);
  });

  it("averages exactly the announced rate over a long run", () => {
    const taken = takenAt(new VideoSampler(0.2), source(15, 3_600_000));
    expect(taken.length).toBe(3_600_000 / 5_000 + 1);
    const gapsMs = taken.slice(2).map((t, i) => t - taken[i + 1]!);
    for (const gapMs of gapsMs) expect(Math.abs(gapMs - 5_000)).toBeLessThan(1_000 / 15);
  });

  it("keeps every frame of a 1 fps source with +-40 ms jitter at 1 fps (not halved)", () => {
    const random = lcg(42);
    const frames = Array.from({ length: 120 }, (_, i) => 10_000 + i * 1_000 + (random() * 80 - 40));
    const taken = takenAt(new VideoSampler(1), frames);
    expect(taken.length).toBeGreaterThanOrEqual(119);
  });

  it("keeps every frame of an exact 1 fps source at 1 fps", () => {
    expect(takenAt(new VideoSampler(1), source(1, 60_000)).length).toBe(60);
  });

  it("takes nothing at fps 0", () => {
    const sampler = new VideoSampler(0);
    expect(takenAt(sampler, source(30, 60_000))).toEqual([]);
    expect(sampler.fps).toBe(0);
  });

  it("takes nothing at a non-finite fps", () => {
    expect(takenAt(new VideoSampler(Infinity), source(30, 10_000))).toEqual([]);
  });

  it("ignores non-finite timestamps", () => {
    const sampler = new VideoSampler(1);
    expect(sampler.offer(Number.NaN)).toBe(false);
    expect(sampler.offer(0)).toBe(true);
  });
});

describe("VideoSampler schedule", () => {
  it("re-anchors after a 30 s pause instead of bursting to catch up", () => {
    const sampler = new VideoSampler(1);
    const before = takenAt(sampler, source(15, 10_000));
    const after = takenAt(sampler, source(15, 10_000, 40_000));
    expect(before.length).toBeGreaterThanOrEqual(10);
    expect(after[0]).toBe(40_000);
    // After the gap the next frame waits about one period (minus tolerance), not 0 ms.
    expect(after[1]! - after[0]!).toBeGreaterThanOrEqual(750);
    expect(after.length).toBeLessThanOrEqual(11);
  });

  it("a late frame moves the schedule, so the next one is not taken right after it", () => {
    const sampler = new VideoSampler(1);
    expect(sampler.offer(0)).toBe(true);
    expect(sampler.offer(1_900)).toBe(true); // 900 ms late
    expect(sampler.offer(1_950)).toBe(false); // no catch-up burst
    expect(sampler.offer(2_640)).toBe(false);
    expect(sampler.offer(2_650)).toBe(true); // 1.9 s + 1 s - 25 % tolerance
  });

  it("switching 0.2 -> 1 fps takes the next frame about 1 s after the last one", () => {
    const sampler = new VideoSampler(0.2);
    const frames = source(15, 60_000);
    const lastTakenMs = takenAt(sampler, frames.filter((t) => t < 9_000)).at(-1)!;
    const switchMs = lastTakenMs + 200;
    sampler.setFps(1, switchMs);
    expect(sampler.fps).toBe(1);
    const nextMs = takenAt(sampler, frames.filter((t) => t > switchMs))[0]!;
    // Deadline lastTaken + 1 s, minus 25 % tolerance, rounded up to the next 15 fps frame.
    expect(nextMs - lastTakenMs).toBeGreaterThanOrEqual(750);
    expect(nextMs - lastTakenMs).toBeLessThanOrEqual(1_000);
  });

  it("switching to a faster rate long after the last frame takes the next frame at once", () => {
    const sampler = new VideoSampler(0.2);
    expect(sampler.offer(0)).toBe(true);
    expect(sampler.offer(3_000)).toBe(false);
    sampler.setFps(1, 3_000);
    expect(sampler.offer(3_050)).toBe(true);
    expect(sampler.offer(3_500)).toBe(false);
    expect(sampler.offer(3_800)).toBe(true);
  });

  it("takes the next frame at once after a switch when nothing was taken yet", () => {
    const sampler = new VideoSampler(0);
    sampler.setFps(1, 5_000);
    expect(sampler.offer(5_010)).toBe(true);
    expect(sampler.offer(5_100)).toBe(false);
  });

  it("switching 1 -> 0.2 fps waits one new period after the last frame", () => {
    const sampler = new VideoSampler(1);
    expect(sampler.offer(0)).toBe(true);
    sampler.setFps(0.2, 500);
    expect(sampler.offer(1_000)).toBe(false);
    expect(sampler.offer(3_700)).toBe(false);
    expect(sampler.offer(3_800)).toBe(true); // 5 s deadline minus 25 % tolerance
  });

  it("setting the same rate keeps the schedule", () => {
    const sampler = new VideoSampler(1);
    expect(sampler.offer(0)).toBe(true);
    sampler.setFps(1, 100);
    expect(sampler.offer(700)).toBe(false);
    expect(sampler.offer(760)).toBe(true);
  });

  it("disabling stops sampling and re-enabling resumes from the last frame", () => {
    const sampler = new VideoSampler(1);
    expect(sampler.offer(0)).toBe(true);
    sampler.setFps(0, 500);
    expect(takenAt(sampler, source(15, 5_000, 1_000))).toEqual([]);
    sampler.setFps(1, 6_000);
    expect(sampler.offer(6_000)).toBe(true);
  });

  it("rejects negative or NaN arguments with RangeError", () => {
    expect(() => new VideoSampler(-1)).toThrow(RangeError);
    expect(() => new VideoSampler(Number.NaN)).toThrow(RangeError);
    expect(() => new VideoSampler(1, { toleranceRatio: -0.1 })).toThrow(RangeError);
    expect(() => new VideoSampler(1, { toleranceRatio: 1 })).toThrow(RangeError);
    const sampler = new VideoSampler(1);
    expect(() => sampler.setFps(-0.5, 0)).toThrow(RangeError);
    expect(() => sampler.setFps(Number.NaN, 0)).toThrow(RangeError);
    expect(() => sampler.setFps(1, Number.NaN)).toThrow(RangeError);
    expect(sampler.fps).toBe(1);
  });
});

describe("VideoSampler window bound (property)", () => {
  /**
   * Strictly increasing timestamps for a given rate, built from gaps measured in sampling periods
   * (a tiny gap up to 2.5 periods), so late, early and bunched frames all occur often.
   */
  const scenarioArb = fc
    .record({
      fps: fc.double({ min: 0.05, max: 30, noNaN: true }),
      gapsInPeriods: fc.array(
        fc.oneof(fc.double({ min: 0.001, max: 0.3, noNaN: true }), fc.double({ min: 0.3, max: 2.5, noNaN: true })),
        { minLength: 1, maxLength: 200 },
      ),
      windowInPeriods: fc.double({ min: 0, max: 20, noNaN: true }),
      toleranceRatio: fc.double({ min: 0, max: 0.99, noNaN: true }),
    })
    .map(({ fps, gapsInPeriods, windowInPeriods, toleranceRatio }) => {
      const periodMs = 1000 / fps;
      let t = 0;
      const timestampsMs = gapsInPeriods.map((gap) => (t += gap * periodMs));
      return { fps, timestampsMs, windowMs: windowInPeriods * periodMs, toleranceRatio };
    });

  /** Largest number of taken timestamps within any closed window of length windowMs. */
  function maxInWindow(taken: readonly number[], windowMs: number): number {
    let best = 0;
    for (let start = 0, end = 0; end < taken.length; end++) {
      while (taken[end]! - taken[start]! > windowMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  it("without tolerance, any window of length T holds at most T*fps + 1 frames", () => {
    fc.assert(
      fc.property(scenarioArb, ({ fps, timestampsMs, windowMs }) => {
        const taken = takenAt(new VideoSampler(fps, { toleranceRatio: 0 }), timestampsMs);
        expect(maxInWindow(taken, windowMs)).toBeLessThanOrEqual((windowMs / 1000) * fps + 1 + 1e-9);
      }),
      { numRuns: 500 },
    );
  });

  it("with tolerance r, any window of length T holds at most T*fps + r + 1 frames", () => {
    fc.assert(
      fc.property(scenarioArb, ({ fps, timestampsMs, windowMs, toleranceRatio }) => {
        const taken = takenAt(new VideoSampler(fps, { toleranceRatio }), timestampsMs);
        const boundFrames = (windowMs / 1000) * fps + toleranceRatio + 1;
        expect(maxInWindow(taken, windowMs)).toBeLessThanOrEqual(boundFrames + 1e-9);
      }),
      { numRuns: 500 },
    );
  });

  it("a source at least as fast as the rate is sampled at the rate on average", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 10 }),
        (fps, speedup) => {
          const durationMs = 120_000;
          const taken = takenAt(new VideoSampler(fps), source(fps * speedup, durationMs));
          const expected = (durationMs / 1000) * fps;
          expect(Math.abs(taken.length - expected)).toBeLessThanOrEqual(1.5);
        },
      ),
    );
  });
});
