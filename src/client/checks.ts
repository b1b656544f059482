/**
 * `client.check()` (docs/DESIGN.md §13): the SDK's side of on-demand checks. Each call sends a Check
 * message and waits for the `check_started` that names its check (the participant's one check: a
 * request while one runs joins it), then for that check's `check_completed`. A refusal (`bad_check`,
 * `check_rate_limited`) rejects the oldest request still waiting for its start. Pure: timers injected.
 */
import { CHECK_MAX_DURATION_S } from "../config/limits.js";
import type { Timers } from "../shared/timers.js";
import type { CheckCompletedEvent, CheckStartedEvent, ServerErrorEvent } from "./events.js";
import type { SendResult } from "./options.js";

/** How long a request waits for its `check_started`, and past the window's end for `check_completed`. */
export const CHECK_ANSWER_GRACE_MS = 15_000;

/** Why a check did not resolve: the server's refusal code, or `not_sent`, `timeout`, `disconnected`, `closed`. */
export class CheckError extends Error {
  override readonly name = "CheckError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Waiter {
  checkId: string | null;
  resolve(event: CheckCompletedEvent): void;
  reject(error: CheckError): void;
  timer: unknown;
}

const REFUSALS = ["bad_check", "check_rate_limited"];

export class CheckWaiters {
  #waiters: Waiter[] = [];

  constructor(
    private readonly timers: Timers,
    private readonly graceMs = CHECK_ANSWER_GRACE_MS,
  ) {}

  /** Sends a Check with `send` and resolves with its check_completed. */
  request(durationS: number, send: () => SendResult): Promise<CheckCompletedEvent> {
    if (!Number.isInteger(durationS) || durationS < 0 || durationS > CHECK_MAX_DURATION_S) {
      return Promise.reject(
        new RangeError(`durationS must be a whole number from 0 (the default) to ${CHECK_MAX_DURATION_S}`),
      );
    }
    const sent = send();
    if (sent !== "sent") return Promise.reject(new CheckError("not_sent", `the check could not be sent (${sent})`));
    return new Promise<CheckCompletedEvent>((resolve, reject) => {
      const waiter: Waiter = { checkId: null, resolve, reject, timer: null };
      this.#waiters.push(waiter);
      this.#expireIn(waiter, this.graceMs, "no check_started from the service");
    });
  }

  /** A check of the participant started (or this socket joined it): requests waiting for a start get it. */
  started(event: CheckStartedEvent): void {
    const windowMs = Math.min(Math.max(0, event.until_ms - Date.now()), CHECK_MAX_DURATION_S * 1000);
    for (const waiter of this.#waiters) {
      if (waiter.checkId !== null) continue;
      waiter.checkId = event.check_id;
      this.#expireIn(waiter, windowMs + this.graceMs, `no check_completed for ${event.check_id}`);
    }
  }

  completed(event: CheckCompletedEvent): void {
    for (const waiter of this.#waiters.filter((w) => w.checkId === event.check_id))
      this.#settle(waiter, () => waiter.resolve(event));
  }

  /** An `error` event: a check refusal rejects the oldest request not yet started. */
  error(event: ServerErrorEvent): void {
    if (!REFUSALS.includes(event.code)) return;
    const waiter = this.#waiters.find((w) => w.checkId === null);
    if (waiter) this.#settle(waiter, () => waiter.reject(new CheckError(event.code, event.message)));
  }

  /**
   * The socket went away: requests not yet started may never have arrived, and are rejected; started
   * ones keep waiting (after a reconnect, or until their grace runs out). `closed` rejects all.
   */
  lost(closed: boolean): void {
    for (const waiter of [...this.#waiters]) {
      if (closed || waiter.checkId === null) {
        const code = closed ? "closed" : "disconnected";
        this.#settle(waiter, () =>
          waiter.reject(
            new CheckError(
              code,
              `the connection ${closed ? "was closed" : "dropped"} before the check ` +
                `${closed ? "completed" : "started"}`,
            ),
          ),
        );
      }
    }
  }

  #expireIn(waiter: Waiter, ms: number, message: string): void {
    if (waiter.timer !== null) this.timers.clearTimeout(waiter.timer);
    waiter.timer = this.timers.setTimeout(
      () => this.#settle(waiter, () => waiter.reject(new CheckError("timeout", message))),
      ms,
    );
  }

  #settle(waiter: Waiter, settle: () => void): void {
    const at = this.#waiters.indexOf(waiter);
    if (at === -1) return;
    this.#waiters.splice(at, 1);
    if (waiter.timer !== null) this.timers.clearTimeout(waiter.timer);
    settle();
  }
}
