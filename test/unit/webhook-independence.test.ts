/**
 * Webhook URLs are independent (docs/DESIGN.md §7: "events of other URLs are never held up"), and a
 * delivery that ends after a purge changes nothing. Node tests over the in-memory outbox: a URL's
 * outcome is reported the moment it is stored, and through the object's webhook part, its deadline
 * registry and an alarm that, like workerd's, runs one handler at a time, a URL that fails fast is
 * retried on its schedule while another URL's requests hang until their timeout.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseWebhookConfig } from "../../src/webhooks/config";
import { runDueDeliveries, type FetchLike } from "../../src/webhooks/deliver";
import { formatWebhookSecret, parseWebhookSecret } from "../../src/webhooks/signing";
import { DeadlineRegistry, type PhysicalAlarm } from "../../src/session/alarm";
import { WebhookDeadline } from "../../src/session/deadlines";
import { FakeOutbox, T0_MS } from "./webhook-fake-outbox";

const SECRET = formatWebhookSecret(new Uint8Array(32).map((_, i) => i * 5 + 3));
const KEY = parseWebhookSecret(SECRET);
const HANG = "https://hang.example/hook";
const FLAKY = "https://flaky.example/hook";
/** Timer slack on a loaded machine; a URL held up behind the hanging one would wait its 500 ms timeout. */
const SLACK_MS = 100;

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

/** workerd's alarm: one scheduled time; a handler runs alone, and a time set meanwhile fires after it. */
class SerialAlarm implements PhysicalAlarm {
  #atMs: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #stopped = false;
  handler: () => Promise<void> = async () => {};

  set(atMs: number): void {
    this.#atMs = atMs;
    this.#schedule();
  }
  clear(): void {
    this.#atMs = null;
    clearTimeout(this.#timer);
  }
  stop(): void {
    this.#stopped = true;
    this.clear();
  }
  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#atMs === null || this.#running || this.#stopped) return;
    this.#timer = setTimeout(() => void this.#fire(), Math.max(0, this.#atMs - Date.now()));
  }
  async #fire(): Promise<void> {
    this.#atMs = null;
    this.#running = true;
    try {
      await this.handler();
    } finally {
      this.#running = false;
      this.#schedule();
    }
  }
}

const alarms: SerialAlarm[] = [];
afterEach(() => {
  for (const alarm of alarms.splice(0)) alarm.stop();
});

describe("runDueDeliveries reports each URL's outcome at once", () => {
  it("a fast-failing URL's retry is stored and reported while another URL's request is still out", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", HANG);
    outbox.add("evt_1", FLAKY);
    const slow = deferred<Response>();
    const fetcher: FetchLike = (url) => (url === HANG ? slow.promise : Promise.resolve(new Response(null, { status: 500 })));
    const reported: Array<{ url: string; nextDueMs: number | null }> = [];
    const run = runDueDeliveries(outbox, {
      secretKey: KEY, fetcher, now: () => T0_MS, schedule: [1_000], random: () => 0.5,
      changed: (url) => reported.push({ url, nextDueMs: outbox.nextDueMs() }),
    });
    await tick();
    // The flaky URL's retry is due in 1 s: the alarm can be armed there now, not when the other request ends.
    expect(reported).toEqual([{ url: FLAKY, nextDueMs: T0_MS + 1_000 }]);
    expect(outbox.rows[1]).toMatchObject({ status: "pending", attempts: 1, lastStatus: 500, nextAttemptMs: T0_MS + 1_000 });
    slow.resolve(new Response(null, { status: 204 }));
    expect(await run).toMatchObject({ attempted: 2, delivered: 1, retried: 1 });
    expect(reported.map((r) => r.url)).toEqual([FLAKY, HANG]);
  });
});

describe("two URLs through the object's webhook part and a one-at-a-time alarm", () => {
  it("one hangs every request, the other answers 500 then recovers: its retries follow the schedule", async () => {
    const timeoutMs = 500;
    const outageMs = 700;
    const schedule = [50, 100, 200, 200, 200, 200, 200, 200, 200, 200];
    const config = parseWebhookConfig({
      WEBHOOK_URLS: `${HANG},${FLAKY}`, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_SCHEDULE: schedule.join(","),
      WEBHOOK_TIMEOUT_MS: String(timeoutMs),
    });
    const startMs = Date.now();
    const recoveredMs = startMs + outageMs;
    const requests: Array<{ url: string; id: string; atMs: number; status: number | null }> = [];
    const fetcher: FetchLike = (url, init) => {
      const atMs = Date.now();
      const id = init.headers["webhook-id"]!;
      if (url === HANG) {
        requests.push({ url, id, atMs, status: null });
        return new Promise(() => {});
      }
      const status = atMs < recoveredMs ? 500 : 204;
      requests.push({ url, id, atMs, status });
      return Promise.resolve(new Response(null, { status }));
    };
    const outbox = new FakeOutbox();
    const alarm = new SerialAlarm();
    alarms.push(alarm);
    const arm = () => registry.arm(Date.now());
    const part = new WebhookDeadline(outbox, { historyEvent: () => null }, config, {
      ready: () => true, logFields: () => ({}), claimed: arm, fetcher,
    });
    const registry = new DeadlineRegistry([part], alarm, (_name, err) => {
      throw err;
    });
    // The shell's alarm(): fire what is due, then re-arm.
    alarm.handler = async () => {
      await registry.fire(Date.now());
      arm();
    };
    // Three transitions, each delivered at once after its commit (the shell's #deliverNow).
    for (const id of ["evt_1", "evt_2", "evt_3"]) {
      for (const url of [HANG, FLAKY]) outbox.add(id, url, Date.now());
      void part.run().then(arm);
      await tick(5);
    }

    const flaky = () => requests.filter((r) => r.url === FLAKY);
    const accepted = () => flaky().filter((r) => r.status === 204);
    for (let i = 0; i < 200 && accepted().length < 3; i++) await tick();
    expect(accepted().map((r) => r.id)).toEqual(["evt_1", "evt_2", "evt_3"]);
    // Every pending event within a schedule step of recovering, in order.
    for (const r of accepted()) expect(r.atMs - recoveredMs).toBeLessThanOrEqual(200 * 1.1 + SLACK_MS);
    // No gap between the head's attempts exceeds its schedule entry (±10 % jitter, plus timer slack).
    const head = flaky().filter((r) => r.id === "evt_1");
    const gaps = head.slice(1).map((r, i) => r.atMs - head[i]!.atMs);
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    gaps.forEach((gap, i) => expect(gap, `gap ${i + 1} of [${gaps.join(", ")}]`).toBeLessThanOrEqual(schedule[i]! * 1.1 + SLACK_MS));
    // Meanwhile the hanging URL was tried, timed out and was tried again.
    const hung = requests.filter((r) => r.url === HANG);
    expect(hung.length).toBeGreaterThanOrEqual(2);
    expect(hung[1]!.atMs - hung[0]!.atMs).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(outbox.rows.find((r) => r.url === HANG)).toMatchObject({ status: "pending", lastError: `timed out after ${timeoutMs} ms` });
  });
});

describe("a delivery that ends after a purge", () => {
  it("never settles or moves the row that reused its seq, and that event is still sent", async () => {
    const outbox = new FakeOutbox();
    const old = outbox.add("evt_old", FLAKY);
    const gates = [deferred<Response>(), deferred<Response>()];
    const sent: string[] = [];
    const fetcher: FetchLike = (_url, init) => {
      sent.push(init.headers["webhook-id"]!);
      return gates[sent.length - 1]?.promise ?? Promise.resolve(new Response(null, { status: 204 }));
    };
    const options = { secretKey: KEY, fetcher, now: () => T0_MS, schedule: [1_000], random: () => 0.5 };
    const first = runDueDeliveries(outbox, options);
    await tick();
    // DELETE: the table is emptied; a new session's first event gets the old row's seq.
    outbox.purge();
    const fresh = outbox.add("evt_new", FLAKY);
    expect(fresh.seq).toBe(old.seq);
    gates[0]!.resolve(new Response(null, { status: 204 }));
    await first;
    expect(fresh).toMatchObject({ status: "pending", attempts: 0, lastStatus: null });

    // A late failure does not move it either.
    const second = runDueDeliveries(outbox, options);
    await tick();
    expect(fresh.attempts).toBe(1);
    outbox.purge();
    const third = outbox.add("evt_third", FLAKY);
    gates[1]!.resolve(new Response(null, { status: 500 }));
    await second;
    expect(third).toMatchObject({ status: "pending", attempts: 0, nextAttemptMs: T0_MS, lastError: null });

    expect(await runDueDeliveries(outbox, options)).toMatchObject({ delivered: 1 });
    expect(sent).toEqual(["evt_old", "evt_new", "evt_third"]);
    expect(third.status).toBe("delivered");
  });

  it("the webhook part stores nothing and re-arms nothing for a run that outlived a purge", async () => {
    const config = parseWebhookConfig({ WEBHOOK_URLS: FLAKY, WEBHOOK_SECRET: SECRET });
    const outbox = new FakeOutbox();
    outbox.add("evt_old", FLAKY);
    const gate = deferred<Response>();
    let rearmed = 0;
    const part = new WebhookDeadline(outbox, { historyEvent: () => null }, config, {
      ready: () => true, logFields: () => ({}), claimed: () => rearmed++, fetcher: () => gate.promise,
    });
    const run = part.run();
    expect(rearmed).toBe(1); // at the claim's lease
    part.onPurge();
    outbox.purge();
    const fresh = outbox.add("evt_new", FLAKY);
    const marks: string[] = [];
    for (const name of ["markDelivered", "markRetry", "markFailed", "expire", "dueForUrl"] as const) {
      const original = outbox[name].bind(outbox) as (...args: unknown[]) => unknown;
      (outbox as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => (marks.push(name), original(...args));
    }
    gate.resolve(new Response(null, { status: 204 }));
    await run;
    expect(marks).toEqual([]);
    expect(rearmed).toBe(1);
    expect(fresh).toMatchObject({ status: "pending", attempts: 0 });
  });
});

describe("a stored session that starts again", () => {
  it("abandons the events pending for a URL that is no longer configured, and keeps the others", () => {
    const config = parseWebhookConfig({ WEBHOOK_URLS: FLAKY, WEBHOOK_SECRET: SECRET });
    const outbox = new FakeOutbox();
    const kept = outbox.add("evt_kept", FLAKY);
    const dropped = outbox.add("evt_dropped", "https://removed.example/hook");
    const part = new WebhookDeadline(outbox, { historyEvent: () => null }, config, {
      ready: () => true, logFields: () => ({}), claimed: () => undefined,
    });
    part.onStart("p-1", T0_MS + 1);
    expect(dropped).toMatchObject({ status: "failed", lastError: "url no longer configured" });
    expect(kept).toMatchObject({ status: "pending" });
    expect(part.nextDeadline()).toBe(kept.nextAttemptMs);
  });
});
