import { describe, expect, it } from "vitest";
import { Backoff, backoffBaseMs } from "../../src/shared/backoff";

const SCHEDULE_MS = [1000, 2000, 4000, 8000, 10000, 10000];
const production = { initialMs: 1000, maxMs: 10_000, jitterRatio: 0.5 };

describe("backoffBaseMs", () => {
  it("doubles from initial and caps at max", () => {
    expect(SCHEDULE_MS.map((_, attempt) => backoffBaseMs(attempt, 1000, 10_000))).toEqual(SCHEDULE_MS);
    expect(backoffBaseMs(5000, 1000, 10_000)).toBe(10_000);
  });

  it("rejects negative or fractional attempts", () => {
    expect(() => backoffBaseMs(-1, 1000, 10_000)).toThrow(RangeError);
    expect(() => backoffBaseMs(0.5, 1000, 10_000)).toThrow(RangeError);
  });
});

describe("Backoff", () => {
  it("with random=0 the delays are exactly the base schedule", () => {
    const b = new Backoff({ ...production, random: () => 0 });
    const steps = SCHEDULE_MS.map(() => b.next());
    expect(steps.map((s) => s.delayMs)).toEqual(SCHEDULE_MS);
    expect(steps.map((s) => s.baseMs)).toEqual(SCHEDULE_MS);
    expect(steps.map((s) => s.attempt)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(b.attempt).toBe(6);
  });

  it("with random≈1 the delays stay under 1.5x base", () => {
    const b = new Backoff({ ...production, random: () => 0.999 });
    for (const baseMs of SCHEDULE_MS) {
      const { delayMs } = b.next();
      expect(delayMs).toBeGreaterThan(baseMs * 1.49);
      expect(delayMs).toBeLessThan(baseMs * 1.5);
    }
  });

  it("with Math.random 1000 samples stay within [base, 1.5 * base]", () => {
    const b = new Backoff(production);
    for (let i = 0; i < 1000; i++) {
      if (i % 8 === 0) b.reset();
      const { delayMs, baseMs } = b.next();
      expect(baseMs).toBe(SCHEDULE_MS[Math.min(i % 8, 5)]);
      expect(delayMs).toBeGreaterThanOrEqual(baseMs);
      expect(delayMs).toBeLessThanOrEqual(baseMs * 1.5);
    }
  });

  it("reset goes back to the initial delay", () => {
    const b = new Backoff({ ...production, random: () => 0 });
    b.next();
    b.next();
    b.next();
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toEqual({ delayMs: 1000, baseMs: 1000, attempt: 0 });
  });

  it("jitterRatio 0 gives no jitter", () => {
    const b = new Backoff({ initialMs: 500, maxMs: 500, jitterRatio: 0, random: () => 0.9 });
    expect(b.next().delayMs).toBe(500);
    expect(b.next().delayMs).toBe(500);
  });

  it.each([
    { initialMs: 0, maxMs: 10_000, jitterRatio: 0.5 },
    { initialMs: -1, maxMs: 10_000, jitterRatio: 0.5 },
    { initialMs: Number.NaN, maxMs: 10_000, jitterRatio: 0.5 },
    { initialMs: 1000, maxMs: 999, jitterRatio: 0.5 },
    { initialMs: 1000, maxMs: Number.POSITIVE_INFINITY, jitterRatio: 0.5 },
    { initialMs: 1000, maxMs: 10_000, jitterRatio: -0.1 },
    { initialMs: 1000, maxMs: 10_000, jitterRatio: 1.1 },
    { initialMs: 1000, maxMs: 10_000, jitterRatio: Number.NaN },
  ])("rejects %o", (options) => {
    expect(() => new Backoff(options)).toThrow(RangeError);
  });

  it("accepts the boundary values", () => {
    expect(() => new Backoff({ initialMs: 1, maxMs: 1, jitterRatio: 0 })).not.toThrow();
    expect(() => new Backoff({ initialMs: 1, maxMs: 1, jitterRatio: 1 })).not.toThrow();
  });
});
