/**
 * Best effort with retry, never on the caller's path (docs/DESIGN.md §12): a participant telling its room,
 * and a room telling the directory. `kick()` starts a send in the background and returns at once;
 * one send runs at a time; a send that fails or does not answer within the timeout is retried after
 * a doubling delay, from the owner's alarm (`nextDeadline` / `onDeadline`), so a retry survives
 * eviction as long as what is to be sent is stored. Pure: the send and the clock are injected.
 */
import { backoffBaseMs } from "../shared/backoff.js";
import { errorMessage } from "../shared/log.js";

export interface RetrySenderOptions {
  /** Sends the next batch; resolves true when more is waiting, false when everything went. */
  send(): Promise<boolean>;
  /** True when something is waiting to be sent (read from storage after a restart). */
  pending(): boolean;
  timeoutMs: number;
  initialMs: number;
  maxMs: number;
  /** The retry deadline moved: re-arm the owner's alarm. */
  rearm(): void;
  failed(reason: string, failures: number): void;
  now(): number;
}

export class RetrySender {
  #running: Promise<void> | null = null;
  #failures = 0;
  #retryAtMs: number | null = null;

  constructor(private readonly o: RetrySenderOptions) {}

  /** Consecutive failed sends (0 after a success). */
  get failures(): number {
    return this.#failures;
  }

  /** New work: send now unless a send is running (it continues with it) or a retry is scheduled. */
  kick(): void {
    if (this.#running || this.#retryAtMs !== null) return;
    this.#start();
  }

  /** The retry time, or now when work is stored but nothing is running (after a restart); null when idle. */
  nextDeadline(nowMs: number): number | null {
    if (this.#retryAtMs !== null) return this.#retryAtMs;
    return !this.#running && this.o.pending() ? nowMs : null;
  }

  /** The alarm: retry now. */
  onDeadline(): Promise<void> {
    this.#retryAtMs = null;
    return this.#running ?? this.#start();
  }

  /** Forget everything (the owner's storage is purged). */
  reset(): void {
    this.#failures = 0;
    this.#retryAtMs = null;
  }

  /** Resolves once the send now running (if any) settled. */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  #start(): Promise<void> {
    const run = this.#loop().finally(() => {
      this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #loop(): Promise<void> {
    for (;;) {
      let more: boolean;
      try {
        more = await withTimeout(this.o.send(), this.o.timeoutMs);
      } catch (err) {
        this.#failures++;
        this.#retryAtMs = this.o.now() + backoffBaseMs(this.#failures - 1, this.o.initialMs, this.o.maxMs);
        this.o.failed(errorMessage(err), this.#failures);
        this.o.rearm();
        return;
      }
      this.#failures = 0;
      if (!more) return;
    }
  }
}

/** The promise, or a rejection after `ms` (the promise itself keeps running). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}
