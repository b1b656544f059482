/**
 * The participant's counters (GET /v1/participants/:id): incremented per message in memory and
 * written to storage in batches, at most once per COUNTERS_FLUSH_MS, never once per frame, and only
 * the counters that changed (a busy isolate hosts hundreds of these objects, each flushing). Pure:
 * the save function and the timer are injected.
 */
import { COUNTERS_FLUSH_MS } from "../config/limits.js";
import { errorMessage, log } from "../shared/log.js";
import { realTimers, type Timers } from "../shared/timers.js";

export const COUNTER_NAMES = [
  "messages_received",
  "frames_received",
  "frames_sampled",
  "frames_skipped",
  "frames_busy",
  "frames_throttled",
  "screen_frames_dropped",
  "audio_frames_received",
  "audio_chunks_sent",
  "messages_sent",
  "dropped_by_queue",
  "dropped_stale",
  "bad_messages",
  "rate_limited",
  "results",
  "results_unknown",
  "results_misrouted",
  "upstream_errors",
  "upstream_undecodable",
  "upstream_connects",
  "storage_errors",
  "upstream_refused",
  "upstream_closed",
  "upstream_stalled",
  "upstream_text",
  "upstream_send_failed",
  "events",
  "checks_started",
  "checks_completed",
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** The timers the counters need (a subset of Timers, so tests pass only these two). */
export type CounterTimers = Pick<Timers, "setTimeout" | "clearTimeout">;

export class SessionCounters {
  #values = zero();
  /** Names changed since the last successful save. */
  #changed = new Set<CounterName>();
  #timer: unknown = null;

  /** `save` writes the given values (those changed since the last save); not called while nothing changed. */
  constructor(
    private readonly save: (values: Readonly<Partial<Record<CounterName, number>>>) => void,
    private readonly timers: CounterTimers = realTimers,
    private readonly flushMs = COUNTERS_FLUSH_MS,
  ) {}

  /** Takes stored values (unknown names are ignored, missing ones start at 0). */
  load(stored: Readonly<Record<string, number>>): void {
    for (const name of COUNTER_NAMES) this.#values[name] = stored[name] ?? 0;
  }

  add(name: CounterName, by = 1): void {
    this.#values[name] += by;
    this.#changed.add(name);
    this.#timer ??= this.timers.setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, this.flushMs);
  }

  /** Writes the values if any changed; a failed write is logged, and retried with the next change. */
  flush(): void {
    if (this.#changed.size === 0) return;
    const changed = this.#changed;
    this.#changed = new Set();
    try {
      this.save(Object.fromEntries([...changed].map((name) => [name, this.#values[name]])));
    } catch (err) {
      for (const name of changed) this.#changed.add(name);
      log("error", "saving counters failed", { reason: errorMessage(err) });
    }
  }

  /** Back to zero, with nothing pending (the session was purged). */
  reset(): void {
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#values = zero();
    this.#changed = new Set();
  }

  snapshot(): Record<CounterName, number> {
    return { ...this.#values };
  }
}

function zero(): Record<CounterName, number> {
  return Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as Record<CounterName, number>;
}
