/**
 * The clock and timers a pure module needs, injected so tests run on a fake clock. The one
 * implementation of them: the upstream link, the session's counters and the client SDK all use it.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Monotonic milliseconds (only differences between two readings mean anything). */
  now(): number;
}

/** The real timers; `now` is `performance.now()` where the platform has it (Workers, Node, browsers). */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => (typeof performance !== "undefined" ? performance.now() : Date.now()),
};
