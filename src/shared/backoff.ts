/**
 * Reconnect delays for the upstream socket (docs/DESIGN.md §4.5): 1 s doubling to 10 s, plus up to
 * 50 % random jitter, reset after a healthy connection. Pure: no Workers or Node imports.
 */

export interface BackoffOptions {
  /** Base delay of the first attempt, in ms (> 0). */
  initialMs: number;
  /** Cap on the base delay, in ms (>= initialMs). */
  maxMs: number;
  /** Jitter adds up to base * jitterRatio; 0..1. */
  jitterRatio: number;
  /** Uniform source in [0, 1); defaults to Math.random. Injected by tests. */
  random?: () => number;
}

/** Base delay (no jitter) for a 0-based attempt: initialMs, doubling each attempt, capped at maxMs. */
export function backoffBaseMs(attempt: number, initialMs: number, maxMs: number): number {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`attempt must be an integer >= 0, got ${attempt}`);
  }
  // 2 ** attempt reaches Infinity for huge attempts; Math.min still yields maxMs.
  return Math.min(initialMs * 2 ** attempt, maxMs);
}

/** Stateful reconnect schedule. Call `next()` before each reconnect, `reset()` once connected. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #jitterRatio: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    const { initialMs, maxMs, jitterRatio } = options;
    if (!Number.isFinite(initialMs) || initialMs <= 0) {
      throw new RangeError(`initialMs must be a finite number > 0, got ${initialMs}`);
    }
    if (!Number.isFinite(maxMs) || maxMs < initialMs) {
      throw new RangeError(`maxMs must be a finite number >= initialMs (${initialMs}), got ${maxMs}`);
    }
    if (!(jitterRatio >= 0 && jitterRatio <= 1)) {
      throw new RangeError(`jitterRatio must be within [0, 1], got ${jitterRatio}`);
    }
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#jitterRatio = jitterRatio;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Delay before the next attempt (base + base * jitterRatio * random()), and advances the
   * attempt counter. `attempt` is the 0-based index of the attempt this delay precedes.
   */
  next(): { delayMs: number; baseMs: number; attempt: number } {
    const attempt = this.#attempt;
    const baseMs = backoffBaseMs(attempt, this.#initialMs, this.#maxMs);
    const delayMs = baseMs + baseMs * this.#jitterRatio * this.#random();
    this.#attempt = attempt + 1;
    return { delayMs, baseMs, attempt };
  }

  /** Back to the initial delay; call after a healthy connection. */
  reset(): void {
    this.#attempt = 0;
  }

  /** Number of `next()` calls since creation or the last reset. */
  get attempt(): number {
    return this.#attempt;
  }
}
