/**
 * A token bucket (pure; the clock is passed in): the per-socket budgets of src/session/budget.ts
 * and the per-socket encode budget of the video path use it.
 */

/** A token bucket: `ratePerS` tokens a second, holding at most `burst`; starts full. */
export class TokenBucket {
  #tokens: number;
  #atMs: number;

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.#tokens = burst;
    this.#atMs = nowMs;
  }

  /** Takes `amount` tokens if the bucket holds them; a refusal takes nothing. */
  take(amount: number, nowMs: number): boolean {
    this.#refill(nowMs);
    if (amount > this.#tokens) return false;
    this.#tokens -= amount;
    return true;
  }

  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  #refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.#atMs);
    this.#atMs = Math.max(this.#atMs, nowMs);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsedMs * this.ratePerS) / 1000);
  }
}
