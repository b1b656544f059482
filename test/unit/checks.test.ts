/**
 * On-demand checks (docs/DESIGN.md §13) as a capability, in Node: the window, joining, the rate limit,
 * the outcomes, the transaction with the webhook rows, the deadline and a restart mid-window.
 */
import { describe, expect, it } from "vitest";
import { Checks, type CheckEvent, type ChecksHost } from "../../src/checks/checks";
import type { CheckLedger } from "../../src/checks/store";
import { checkDuration, parseCheckRequest, type CheckRecord } from "../../src/checks/window";
import { CHECK_RATE_MAX, CHECK_RATE_WINDOW_S } from "../../src/config/limits";
import type { CheckCompleted } from "../../src/protocol/events";
import type { Level } from "../../src/protocol/levels";

/** The ledger as a map; `failNext` makes the next completion throw (as a failed transaction would). */
class MemoryLedger implements CheckLedger {
  readonly rows = new Map<string, { record: CheckRecord; eventId: string | null; event: string | null }>();
  failNext = false;
  running(): CheckRecord | null {
    for (const row of this.rows.values()) if (row.eventId === null) return structuredClone(row.record);
    return null;
  }
  open(record: CheckRecord): void {
    this.rows.set(record.checkId, { record: structuredClone(record), eventId: null, event: null });
  }
  progress(record: CheckRecord): void {
    const row = this.rows.get(record.checkId)!;
    row.record = structuredClone(record);
  }
  complete(checkId: string, eventId: string, eventJson: string): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("SQLITE_FULL");
    }
    const row = this.rows.get(checkId)!;
    row.eventId = eventId;
    row.event = eventJson;
  }
  startedAfter(sinceMs: number): number[] {
    return [...this.rows.values()].map((r) => r.record.startedMs).filter((ms) => ms > sinceMs).sort((a, b) => a - b);
  }
  eventJson(eventId: string): string | null {
    return [...this.rows.values()].find((r) => r.eventId === eventId)?.event ?? null;
  }
}

function setup(options: { counting?: string[]; level?: Level; ledger?: MemoryLedger } = {}) {
  const ledger = options.ledger ?? new MemoryLedger();
  const events: CheckEvent[] = [];
  const room: CheckEvent[] = [];
  const webhooks: Array<{ eventId: string; body: string }> = [];
  const sampling: boolean[] = [];
  let inTransaction = false;
  const state = { counting: options.counting ?? ["camera"], level: options.level ?? ("clear" as Level), delivered: 0, rearmed: 0 };
  const host: ChecksHost = {
    participantId: () => "p1",
    roomId: () => "room-a",
    level: () => state.level,
    countingTracks: () => state.counting,
    simulated: false,
    transaction(write) {
      inTransaction = true;
      const rowsBefore = webhooks.length;
      try {
        write();
      } catch (err) {
        webhooks.length = rowsBefore; // rolled back
        throw err;
      } finally {
        inTransaction = false;
      }
    },
    enqueueWebhooks(eventId, body) {
      expect(inTransaction).toBe(true);
      webhooks.push({ eventId, body });
    },
    broadcast: (event) => events.push(event),
    samplingChanged: (checking) => sampling.push(checking),
    deliverWebhooks: () => state.delivered++,
    rearm: () => state.rearmed++,
    reportToRoom: (event) => room.push(event),
    count: () => undefined,
    log: () => undefined,
  };
  const checks = new Checks(() => ledger, host);
  return { checks, ledger, events, room, webhooks, sampling, state, host };
}

const T0 = 1_730_000_000_000;
const completed = (events: CheckEvent[]) => events.filter((e): e is CheckCompleted => e.type === "check_completed");

describe("checkDuration", () => {
  it("absent, null and 0 mean the default 10 s; 1..60 whole seconds pass; the rest is refused with a reason", () => {
    expect(checkDuration(undefined)).toEqual({ ok: true, durationS: 10 });
    expect(checkDuration(0)).toEqual({ ok: true, durationS: 10 });
    expect(checkDuration(null)).toEqual({ ok: true, durationS: 10 });
    expect(checkDuration(60)).toEqual({ ok: true, durationS: 60 });
    for (const bad of [61, -1, 2.5, "10", true, {}]) {
      const result = checkDuration(bad);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toMatch(/from 1 to 60/);
    }
  });
});

describe("parseCheckRequest", () => {
  it("an empty body is the default window; JSON duration_s is checked; anything else is bad_json", () => {
    expect(parseCheckRequest("")).toEqual({ ok: true, durationS: 10 });
    expect(parseCheckRequest("{}")).toEqual({ ok: true, durationS: 10 });
    expect(parseCheckRequest('{"duration_s": 25}')).toEqual({ ok: true, durationS: 25 });
    expect(parseCheckRequest('{"duration_s": 61}')).toMatchObject({ ok: false, error: "bad_duration" });
    for (const bad of ["nope", "[10]", "10", "null", `{"duration_s": 5, "pad": "${"x".repeat(2000)}"}`]) {
      expect(parseCheckRequest(bad)).toMatchObject({ ok: false, error: "bad_json" });
    }
  });
});

describe("Checks", () => {
  it("answers at once with the window, sends check_started to sockets and room, and switches to burst sampling", () => {
    const { checks, events, room, sampling, ledger } = setup();
    const answer = checks.start(undefined, T0);
    expect(answer).toMatchObject({ ok: true, value: { until_ms: T0 + 10_000, joined: false } });
    if (!answer.ok) return;
    expect(answer.value.check_id).toMatch(/^chk_[0-9a-z]+$/);
    expect(events).toEqual([{ type: "check_started", check_id: answer.value.check_id, participant_id: "p1", room_id: "room-a", until_ms: T0 + 10_000 }]);
    expect(room).toEqual(events);
    expect(sampling).toEqual([true]);
    expect(checks.nextDeadline()).toBe(T0 + 10_000);
    expect(ledger.running()?.checkId).toBe(answer.value.check_id);
  });

  it("a second request while one runs joins it: same check id and end, no second check_started", () => {
    const { checks, events } = setup();
    const first = checks.start(30, T0);
    const second = checks.start(5, T0 + 1_000);
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.value).toEqual({ check_id: first.value.check_id, until_ms: T0 + 30_000, joined: true });
    expect(events.filter((e) => e.type === "check_started")).toHaveLength(1);
  });

  it("refuses more than 60 s with 400, and has no session -> 404", () => {
    const { checks } = setup();
    expect(checks.start(61, T0)).toMatchObject({ ok: false, status: 400, error: "bad_check" });
    const orphan = new Checks(() => null, setup().host);
    expect(orphan.start(10, T0)).toMatchObject({ ok: false, status: 404 });
  });

  it("completes `answered` once every counting track answered within the window, committed with its webhook rows", () => {
    const { checks, events, webhooks, sampling, room, state } = setup({ counting: ["camera", "microphone"] });
    const answer = checks.start(10, T0);
    checks.onResult("camera", "clear", T0 + 1_000);
    expect(completed(events)).toHaveLength(0); // the microphone has not answered yet
    checks.onResult("camera", "suspicious", T0 + 2_000);
    state.level = "suspicious";
    checks.onResult("microphone", "clear", T0 + 4_000);
    const [done] = completed(events);
    expect(done).toMatchObject({
      type: "check_completed",
      check_id: answer.ok ? answer.value.check_id : "",
      participant_id: "p1",
      room_id: "room-a",
      level: "suspicious",
      outcome: "answered",
      results: 3,
      tracks: [{ track_id: "camera", level: "suspicious" }, { track_id: "microphone", level: "clear" }],
      started_ms: T0,
      completed_ms: T0 + 4_000,
      simulated: false,
    });
    expect(done!.id).toMatch(/^evt_/);
    expect(webhooks).toEqual([{ eventId: done!.id, body: JSON.stringify(done) }]);
    expect(JSON.parse(webhooks[0]!.body).type).toBe("check_completed");
    expect(sampling).toEqual([true, false]);
    expect(room.map((e) => e.type)).toEqual(["check_started", "check_completed"]);
    expect(checks.nextDeadline()).toBeNull();
    expect(state.delivered).toBe(1);
  });

  it("waits for a track sent upstream during the window even before it has a level", () => {
    const { checks, events } = setup({ counting: [] });
    checks.start(10, T0);
    checks.trackSent("camera", T0 + 100);
    checks.trackSent("microphone", T0 + 200);
    checks.onResult("camera", "clear", T0 + 500);
    expect(completed(events)).toHaveLength(0);
    checks.onResult("microphone", "alert", T0 + 3_500);
    expect(completed(events)[0]).toMatchObject({ outcome: "answered", results: 2 });
  });

  it("ends on its deadline: `no_media` with 0 results, `window_ended` when a counting track never answered", () => {
    const quiet = setup();
    quiet.checks.start(3, T0);
    quiet.checks.onDeadline(T0 + 2_999); // early alarm: nothing
    expect(completed(quiet.events)).toHaveLength(0);
    quiet.checks.onDeadline(T0 + 3_000);
    expect(completed(quiet.events)[0]).toMatchObject({ outcome: "no_media", results: 0, tracks: [], completed_ms: T0 + 3_000 });
    expect(quiet.sampling).toEqual([true, false]);

    const partial = setup({ counting: ["camera", "microphone"] });
    partial.checks.start(3, T0);
    partial.checks.onResult("camera", "clear", T0 + 1_000);
    partial.checks.onResult("camera", "clear", T0 + 4_000); // after the window: not counted
    partial.checks.onDeadline(T0 + 4_100);
    expect(completed(partial.events)[0]).toMatchObject({ outcome: "window_ended", results: 1, tracks: [{ track_id: "camera", level: "clear" }] });
  });

  it("a new request after the window ended (alarm not yet run) completes the old check and starts a new one", () => {
    const { checks, events } = setup();
    const first = checks.start(2, T0);
    const second = checks.start(2, T0 + 2_500);
    expect(second).toMatchObject({ ok: true, value: { joined: false } });
    expect(first.ok && second.ok && first.value.check_id !== second.value.check_id).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["check_started", "check_completed", "check_started"]);
  });

  it("rate-limits new checks per participant with a clear message; joining is free", () => {
    const { checks } = setup();
    let now = T0;
    for (let i = 0; i < CHECK_RATE_MAX; i++) {
      expect(checks.start(1, now)).toMatchObject({ ok: true, value: { joined: false } });
      expect(checks.start(1, now + 10)).toMatchObject({ ok: true, value: { joined: true } });
      checks.onDeadline(now + 1_000);
      now += 2_000;
    }
    const refused = checks.start(1, now);
    expect(refused).toMatchObject({ ok: false, status: 429, error: "check_rate_limited" });
    if (!refused.ok) expect(refused.message).toMatch(new RegExp(`at most ${CHECK_RATE_MAX} checks .* every ${CHECK_RATE_WINDOW_S} s; the next one can start in \\d+ s`));
    // Once the first check leaves the window, one more may start.
    expect(checks.start(1, T0 + CHECK_RATE_WINDOW_S * 1000)).toMatchObject({ ok: true, value: { joined: false } });
  });

  it("after a restart the stored window runs on (burst again) and ends on the alarm with the results it had", () => {
    const ledger = new MemoryLedger();
    const before = setup({ ledger, counting: ["camera", "microphone"] });
    const answer = before.checks.start(10, T0);
    before.checks.onResult("camera", "alert", T0 + 1_000);
    // The object is evicted; a new instance starts from storage.
    const after = setup({ ledger, counting: ["camera", "microphone"] });
    after.checks.onStart("p1", T0 + 5_000);
    expect(after.sampling).toEqual([true]);
    expect(after.checks.nextDeadline()).toBe(T0 + 10_000);
    expect(after.checks.running(T0 + 5_000)).toMatchObject({ check_id: answer.ok ? answer.value.check_id : "" });
    after.checks.onDeadline(T0 + 10_000);
    expect(completed(after.events)[0]).toMatchObject({ outcome: "window_ended", results: 1, tracks: [{ track_id: "camera", level: "alert" }] });
    expect(ledger.running()).toBeNull();
  });

  it("a completion whose transaction fails changes nothing and is retried from the alarm", () => {
    const { checks, ledger, events, webhooks } = setup();
    checks.start(2, T0);
    ledger.failNext = true;
    checks.onDeadline(T0 + 2_000);
    expect(completed(events)).toHaveLength(0);
    expect(webhooks).toHaveLength(0);
    expect(checks.nextDeadline()).toBe(T0 + 3_000);
    checks.onDeadline(T0 + 3_000);
    expect(completed(events)).toHaveLength(1);
    expect(webhooks).toHaveLength(1);
    expect(checks.nextDeadline()).toBeNull();
  });

  it("a purge forgets the running check", () => {
    const ledger = new MemoryLedger();
    const { checks } = setup({ ledger });
    checks.start(10, T0);
    ledger.rows.clear();
    checks.onPurge();
    expect(checks.nextDeadline()).toBeNull();
    expect(checks.running(T0 + 1)).toBeNull();
  });
});
