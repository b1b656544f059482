import { describe, expect, it } from "vitest";
import { COUNTER_NAMES, SessionCounters } from "../../src/session/counters";

function manualTimers() {
  const pending = new Map<number, () => void>();
  let id = 0;
  return {
    timers: {
      setTimeout: (fn: () => void) => (pending.set(++id, fn), id),
      clearTimeout: (handle: unknown) => void pending.delete(handle as number),
    },
    fire: () => [...pending.entries()].forEach(([k, fn]) => (pending.delete(k), fn())),
    get pending() {
      return pending.size;
    },
  };
}

describe("SessionCounters", () => {
  it("batches storage writes: one save per flush period, not one per increment", () => {
    const saves: Array<Record<string, number>> = [];
    const t = manualTimers();
    const counters = new SessionCounters((v) => saves.push({ ...v }), t.timers);
    for (let i = 0; i < 1_000; i++) counters.add("frames_received");
    counters.add("dropped_by_queue", 4);
    expect(saves).toHaveLength(0);
    expect(t.pending).toBe(1);
    t.fire();
    expect(saves).toHaveLength(1);
    // Only what changed is written: two rows, not one per counter.
    expect(saves[0]).toEqual({ frames_received: 1_000, dropped_by_queue: 4 });
    t.fire();
    counters.flush();
    expect(saves).toHaveLength(1); // nothing changed since
    counters.add("events");
    counters.flush();
    expect(saves[1]).toEqual({ events: 1 });
  });

  it("a failed save is retried with everything changed since the last good one", () => {
    const saves: Array<Record<string, number>> = [];
    let fail = true;
    const counters = new SessionCounters((v) => {
      if (fail) throw new Error("disk full");
      saves.push({ ...v });
    }, manualTimers().timers);
    counters.add("frames_received");
    counters.flush();
    fail = false;
    counters.add("events");
    counters.flush();
    expect(saves).toEqual([{ frames_received: 1, events: 1 }]);
  });

  it("loads stored values, ignores unknown names, and resets to zero with no pending write", () => {
    const saves: unknown[] = [];
    const t = manualTimers();
    const counters = new SessionCounters((v) => saves.push(v), t.timers);
    counters.load({ events: 3, not_a_counter: 9 });
    expect(counters.snapshot()).toMatchObject({ events: 3 });
    expect(Object.keys(counters.snapshot())).toEqual([...COUNTER_NAMES]);
    counters.add("events");
    counters.reset();
    expect(t.pending).toBe(0);
    expect(counters.snapshot().events).toBe(0);
    counters.flush();
    expect(saves).toHaveLength(0);
  });
});
