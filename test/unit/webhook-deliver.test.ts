/**
 * Webhook delivery (docs/DESIGN.md §7): one attempt with a timeout that never throws, and runs that
 * drain an outbox in order per URL, concurrently across URLs, on the retry schedule. A fake fetch
 * and an in-memory outbox with the same head-of-line and lease rules as the SQLite one; one test
 * posts to a real local HTTP server that verifies with the official `standardwebhooks` package.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { Webhook } from "standardwebhooks";
import { deliverOnce, runDueDeliveries, type FetchLike } from "../../src/webhooks/deliver";
import { formatWebhookSecret, parseWebhookSecret } from "../../src/webhooks/signing";
import type { LogFields } from "../../src/shared/log";
import { FakeOutbox, T0_MS } from "./webhook-fake-outbox";

const SECRET = formatWebhookSecret(new Uint8Array(32).map((_, i) => i * 7 + 1));
const KEY = parseWebhookSecret(SECRET);

type Init = Parameters<FetchLike>[1];
interface Call {
  url: string;
  init: Init;
}

/** A fetch answering from a per-call script; records every call. */
function fakeFetch(answer: (call: Call, index: number) => Promise<Response> | Response): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call = { url, init };
      calls.push(call);
      return answer(call, calls.length - 1);
    },
  };
}

const ok = () => new Response("ok", { status: 200 });

function logger() {
  const lines: Array<{ level: string; msg: string; fields: LogFields }> = [];
  return { lines, log: (level: "info" | "warn" | "error", msg: string, fields: LogFields) => void lines.push({ level, msg, fields }) };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("deliverOnce", () => {
  const send = (fetch: FetchLike, timeoutMs = 1_000) => deliverOnce(fetch, "https://hooks.example/a", '{"x":1}', { "webhook-id": "evt_1" }, timeoutMs, () => T0_MS);

  it("POSTs the body and headers without following redirects; 2xx is delivered", async () => {
    const fake = fakeFetch(() => new Response(null, { status: 204 }));
    expect(await send(fake.fetch)).toEqual({ kind: "delivered", status: 204, error: null, retryAfterMs: null });
    expect(fake.calls[0]).toMatchObject({ url: "https://hooks.example/a", init: { method: "POST", body: '{"x":1}', headers: { "webhook-id": "evt_1" }, redirect: "manual" } });
  });

  it("retries a 500 and a redirect, and stops at 410", async () => {
    expect(await send(fakeFetch(() => new Response("boom", { status: 500, statusText: "Internal Server Error" })).fetch)).toEqual({
      kind: "retry",
      status: 500,
      error: "HTTP 500 Internal Server Error",
      retryAfterMs: null,
    });
    expect(await send(fakeFetch(() => new Response(null, { status: 302, headers: { location: "/x" } })).fetch)).toMatchObject({ kind: "retry", status: 302 });
    expect(await send(fakeFetch(() => new Response(null, { status: 410 })).fetch)).toMatchObject({ kind: "failed", status: 410, error: "HTTP 410" });
  });

  it("reads Retry-After on a 429 (seconds or date)", async () => {
    expect(await send(fakeFetch(() => new Response(null, { status: 429, headers: { "retry-after": "30" } })).fetch)).toMatchObject({
      kind: "retry",
      status: 429,
      retryAfterMs: 30_000,
    });
    const date = new Date(T0_MS + 120_000).toUTCString();
    const result = await send(fakeFetch(() => new Response(null, { status: 503, headers: { "retry-after": date } })).fetch);
    expect(result.retryAfterMs).toBeGreaterThan(119_000);
    expect(result.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it("turns a network error, even a synchronous throw, into a retry with status null", async () => {
    const rejecting: FetchLike = () => Promise.reject(new TypeError("fetch failed: ECONNREFUSED"));
    expect(await send(rejecting)).toEqual({ kind: "retry", status: null, error: "network error: fetch failed: ECONNREFUSED", retryAfterMs: null });
    const throwing: FetchLike = () => {
      throw new Error("bad url");
    };
    expect(await send(throwing)).toMatchObject({ kind: "retry", status: null, error: "network error: bad url" });
  });

  it("aborts after the timeout, also when the fetch ignores the signal", async () => {
    let aborted = false;
    const honouring: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => init.signal.addEventListener("abort", () => ((aborted = true), reject(new DOMException("aborted", "AbortError")))));
    const started = Date.now();
    expect(await send(honouring, 50)).toEqual({ kind: "retry", status: null, error: "timed out after 50 ms", retryAfterMs: null });
    expect(aborted).toBe(true);
    const ignoring: FetchLike = () => new Promise(() => {});
    expect(await send(ignoring, 50)).toMatchObject({ kind: "retry", error: "timed out after 50 ms" });
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("runDueDeliveries", () => {
  it("drains every URL's backlog in order, signed for the official verifier, webhook-id = event id", async () => {
    const outbox = new FakeOutbox();
    for (const id of ["evt_1", "evt_2", "evt_3"]) for (const url of ["https://a.example/h", "https://b.example/h"]) outbox.add(id, url);
    const fake = fakeFetch(ok);
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS });
    expect(summary).toEqual({ attempted: 6, delivered: 6, retried: 0, failed: 0, expired: 0, budgetExhausted: false, nextDueMs: null });
    for (const host of ["a.example", "b.example"]) {
      const ids = fake.calls.filter((c) => c.url.includes(host)).map((c) => c.init.headers["webhook-id"]);
      expect(ids).toEqual(["evt_1", "evt_2", "evt_3"]);
    }
    const wh = new Webhook(SECRET);
    for (const call of fake.calls) {
      expect(call.init.headers["webhook-timestamp"]).toBe(String(Math.floor(T0_MS / 1000)));
      expect(wh.verify(call.init.body, call.init.headers)).toEqual(JSON.parse(call.init.body));
    }
    expect(outbox.rows.every((row) => row.status === "delivered" && row.attempts === 1 && row.lastStatus === 200)).toBe(true);
  });

  it("delivers concurrently across URLs: a slow consumer does not hold up another", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://slow.example/");
    outbox.add("evt_1", "https://fast.example/");
    outbox.add("evt_2", "https://fast.example/");
    const slow = deferred<Response>();
    const fake = fakeFetch((call) => (call.url.includes("slow") ? slow.promise : ok()));
    const run = runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS });
    await new Promise((r) => setTimeout(r, 20));
    expect(outbox.rows.filter((r) => r.url.includes("fast")).map((r) => r.status)).toEqual(["delivered", "delivered"]);
    expect(outbox.rows[0]!.status).toBe("pending");
    slow.resolve(ok());
    expect((await run).delivered).toBe(3);
  });

  it("on a 500 schedules the retry and keeps the URL's later events back", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://a.example/");
    outbox.add("evt_2", "https://a.example/");
    outbox.add("evt_1", "https://b.example/");
    const fake = fakeFetch((call) => (call.url.includes("a.example") ? new Response(null, { status: 500 }) : ok()));
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS, schedule: [1_000, 2_000], random: () => 0.5 });
    expect(summary).toEqual({ attempted: 2, delivered: 1, retried: 1, failed: 0, expired: 0, budgetExhausted: false, nextDueMs: T0_MS + 1_000 });
    expect(outbox.rows[0]).toMatchObject({ status: "pending", attempts: 1, nextAttemptMs: T0_MS + 1_000, lastStatus: 500, lastError: "HTTP 500" });
    expect(outbox.rows[1]).toMatchObject({ status: "pending", attempts: 0 });
    expect(fake.calls.filter((c) => c.init.headers["webhook-id"] === "evt_2")).toHaveLength(0);
    // Not due yet: nothing happens.
    expect((await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS + 999 })).attempted).toBe(0);
  });

  it("honours a Retry-After longer than the schedule", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://a.example/");
    const fake = fakeFetch(() => new Response(null, { status: 429, headers: { "retry-after": "60" } }));
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS, schedule: [1_000], random: () => 0.5 });
    expect(summary.nextDueMs).toBe(T0_MS + 60_000);
    expect(outbox.rows[0]).toMatchObject({ lastStatus: 429, nextAttemptMs: T0_MS + 60_000 });
  });

  it("retries with a fresh timestamp each attempt, then marks failed after the last and logs once without secrets", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://hooks.example/secret-path-token?k=abc");
    outbox.add("evt_2", "https://hooks.example/secret-path-token?k=abc");
    const log = logger();
    let clock = T0_MS;
    const fake = fakeFetch((_call, i) => (i < 3 ? new Response(null, { status: 503 }) : ok()));
    const options = { secretKey: KEY, fetcher: fake.fetch, now: () => clock, schedule: [2_000, 4_000], random: () => 0.5, log: log.log, logFields: { participant: "alice" } };
    await runDueDeliveries(outbox, options);
    clock = outbox.nextDueMs()!;
    expect(clock).toBe(T0_MS + 2_000);
    await runDueDeliveries(outbox, options);
    clock = outbox.nextDueMs()!;
    expect(clock).toBe(T0_MS + 6_000);
    expect(log.lines).toHaveLength(0);
    // Third and last attempt fails: the event is given up and evt_2 goes out in the same run.
    const summary = await runDueDeliveries(outbox, options);
    expect(summary).toMatchObject({ attempted: 2, failed: 1, delivered: 1, nextDueMs: null });
    expect(outbox.rows[0]).toMatchObject({ status: "failed", attempts: 3, lastStatus: 503 });
    expect(outbox.rows[1]).toMatchObject({ status: "delivered", attempts: 1 });
    expect(fake.calls.map((c) => c.init.headers["webhook-timestamp"])).toEqual(
      [T0_MS, T0_MS + 2_000, T0_MS + 6_000, T0_MS + 6_000].map((ms) => String(Math.floor(ms / 1000))),
    );
    expect(log.lines).toEqual([
      {
        level: "error",
        msg: "webhook delivery failed",
        fields: { participant: "alice", event: "evt_1", url_host: "hooks.example", status: 503, attempts: 3, reason: "retries exhausted", error: "HTTP 503" },
      },
    ]);
    const logged = JSON.stringify(log.lines);
    expect(logged).not.toContain("secret-path-token");
    expect(logged).not.toContain(SECRET.slice(6));
  });

  it("gives up at once on 410 and moves on to the URL's next event", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://gone.example/");
    outbox.add("evt_2", "https://gone.example/");
    const log = logger();
    const fake = fakeFetch(() => new Response(null, { status: 410 }));
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS, log: log.log });
    expect(summary).toMatchObject({ attempted: 2, failed: 2, nextDueMs: null });
    expect(log.lines.map((l) => [l.fields.event, l.fields.reason])).toEqual([
      ["evt_1", "410 gone"],
      ["evt_2", "410 gone"],
    ]);
  });

  it("records network errors and timeouts as retries and never throws", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://down.example/");
    outbox.add("evt_1", "https://hang.example/");
    const fetcher: FetchLike = (url) => (url.includes("down") ? Promise.reject(new TypeError("connect ECONNREFUSED")) : new Promise(() => {}));
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher, now: () => T0_MS, timeoutMs: 30, schedule: [5_000], random: () => 0.5 });
    expect(summary).toMatchObject({ attempted: 2, retried: 2 });
    expect(outbox.rows[0]).toMatchObject({ lastStatus: null, lastError: "network error: connect ECONNREFUSED", nextAttemptMs: T0_MS + 5_000 });
    expect(outbox.rows[1]).toMatchObject({ lastStatus: null, lastError: "timed out after 30 ms" });
  });

  it("does not attempt a row twice when two runs overlap (the claim leases it)", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://a.example/");
    const gate = deferred<Response>();
    const fake = fakeFetch(() => gate.promise);
    const first = runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS, timeoutMs: 1_000 });
    await new Promise((r) => setTimeout(r, 10));
    const second = await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fake.fetch, now: () => T0_MS });
    expect(second.attempted).toBe(0);
    // While in flight, the deadline is the lease: if the object died now, the row would be due then.
    expect(second.nextDueMs).toBe(T0_MS + 1_000 + 5_000);
    gate.resolve(ok());
    expect((await first).delivered).toBe(1);
    expect(fake.calls).toHaveLength(1);
  });

  it("stops after maxAttemptsPerRun and leaves the rest due", async () => {
    const outbox = new FakeOutbox();
    for (let i = 1; i <= 5; i++) outbox.add(`evt_${i}`, "https://a.example/");
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher: fakeFetch(ok).fetch, now: () => T0_MS, maxAttemptsPerRun: 3 });
    expect(summary).toMatchObject({ attempted: 3, delivered: 3, nextDueMs: T0_MS });
  });

  it("posts to a real HTTP server that verifies with standardwebhooks (default fetch)", async () => {
    const received: string[] = [];
    const wh = new Webhook(SECRET);
    const server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        try {
          const payload = wh.verify(body, req.headers as Record<string, string>) as { id: string };
          received.push(`${req.method} ${req.headers["content-type"]} ${payload.id}`);
          res.writeHead(received.length === 1 ? 500 : 200).end();
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const outbox = new FakeOutbox();
      outbox.add("evt_1", url);
      outbox.add("evt_2", url);
      // A fixed clock: the schedule counts from the rows' creation (T0_MS), the requests are real.
      const first = await runDueDeliveries(outbox, { secretKey: KEY, schedule: [1_000], random: () => 0.5, now: () => T0_MS });
      expect(first).toMatchObject({ attempted: 1, retried: 1 });
      const second = await runDueDeliveries(outbox, { secretKey: KEY, schedule: [1_000], now: () => T0_MS + 1_000 });
      expect(second).toMatchObject({ attempted: 2, delivered: 2, nextDueMs: null });
      expect(received).toEqual(["POST application/json evt_1", "POST application/json evt_1", "POST application/json evt_2"]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("signs with both keys during a rotation: the official library accepts each request under either", async () => {
    const previous = formatWebhookSecret(new Uint8Array(32).fill(77));
    const outbox = new FakeOutbox();
    outbox.add("evt_1", "https://a.example/");
    const fake = fakeFetch(ok);
    await runDueDeliveries(outbox, { secretKey: KEY, previousSecretKey: parseWebhookSecret(previous), fetcher: fake.fetch, now: () => T0_MS });
    const { body, headers } = fake.calls[0]!.init;
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    vi.setSystemTime(T0_MS);
    try {
      expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
      expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("bounded runs", () => {
  it("a consumer taking 9 s per request cannot push a run past its 30 s budget; the next run goes on in order", async () => {
    const outbox = new FakeOutbox();
    for (let i = 1; i <= 10; i++) outbox.add(`evt_${i}`, "https://slow.example/");
    let clock = T0_MS;
    const fetcher: FetchLike = async () => {
      clock += 9_000; // the consumer answers after 9 s (below the 10 s timeout)
      return ok();
    };
    const first = await runDueDeliveries(outbox, { secretKey: KEY, fetcher, now: () => clock });
    // Attempts start at 0, 9 and 18 s; at 27 s an attempt could run to 37 s (its 10 s timeout), past 30 s.
    expect(first).toMatchObject({ attempted: 3, delivered: 3, budgetExhausted: true, nextDueMs: T0_MS });
    expect(clock - T0_MS).toBeLessThanOrEqual(30_000);
    const runStart = clock;
    const second = await runDueDeliveries(outbox, { secretKey: KEY, fetcher, now: () => clock });
    expect(second).toMatchObject({ attempted: 3, delivered: 3, budgetExhausted: true });
    expect(clock - runStart).toBeLessThanOrEqual(30_000);
    expect(outbox.rows.filter((r) => r.status === "delivered").map((r) => r.eventId)).toEqual(["evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6"]);
  });

  it("a consumer that hangs: every attempt ends at its timeout and the whole run inside its budget (real time)", async () => {
    const outbox = new FakeOutbox();
    const urls = ["https://hang-1.example/", "https://hang-2.example/", "https://slow.example/"];
    for (const url of urls) for (let i = 1; i <= 5; i++) outbox.add(`evt_${i}`, url);
    // Two URLs never answer; the third accepts after 60 ms, so its worker keeps going until the budget stops it.
    const fetcher: FetchLike = (url) => (url.includes("slow") ? new Promise((r) => setTimeout(() => r(ok()), 60)) : new Promise(() => {}));
    const startedMs = Date.now();
    const summary = await runDueDeliveries(outbox, { secretKey: KEY, fetcher, now: () => Date.now(), timeoutMs: 100, budgetMs: 300, schedule: [1_000], random: () => 0.5 });
    const elapsedMs = Date.now() - startedMs;
    expect(elapsedMs).toBeLessThanOrEqual(300 + 150);
    expect(summary.budgetExhausted).toBe(true);
    expect(summary.retried).toBe(2); // one timed-out attempt per hanging URL, then their retries wait
    expect(summary.delivered).toBeGreaterThanOrEqual(1);
    expect(summary.delivered).toBeLessThanOrEqual(4); // at 60 ms each, starts only up to 200 ms
    for (const url of urls.slice(0, 2)) expect(outbox.rows.find((r) => r.url === url)).toMatchObject({ attempts: 1, lastError: "timed out after 100 ms" });
  });
});

describe("the retry window", () => {
  const A_URL = "https://dead.example/";

  /** Runs whenever the outbox is next due, until nothing is pending; returns the clock at the end. */
  async function drain(outbox: FakeOutbox, options: Omit<Parameters<typeof runDueDeliveries>[1], "now">, clock: { ms: number }): Promise<void> {
    for (let i = 0; i < 1_000; i++) {
      const next = outbox.nextDueMs();
      if (next === null) return;
      clock.ms = Math.max(clock.ms, next);
      await runDueDeliveries(outbox, { ...options, now: () => clock.ms });
    }
    throw new Error("the outbox never drained");
  }

  it("fails a dead consumer's backlog together, each event one window after its creation, with the reason", async () => {
    const outbox = new FakeOutbox();
    for (let i = 0; i < 20; i++) outbox.add(`evt_${i}`, A_URL, T0_MS + (i < 10 ? 0 : i)); // ten at once, then ten 1 ms apart
    const log = logger();
    const clock = { ms: T0_MS };
    const sent: Array<{ id: string; atMs: number }> = [];
    const fetcher: FetchLike = async (_url, init) => {
      sent.push({ id: init.headers["webhook-id"]!, atMs: clock.ms });
      return new Response(null, { status: 500 });
    };
    await drain(outbox, { secretKey: KEY, fetcher, windowMs: 60_000, random: () => 0.5, log: log.log }, clock);
    // The head was retried densely (1, 2, 4, 8, 10 s ...) until its window closed, never after.
    const head = sent.filter((s) => s.id === "evt_0").map((s) => s.atMs - T0_MS);
    expect(head).toEqual([0, 1_000, 3_000, 7_000, 15_000, 25_000, 35_000, 45_000, 55_000]);
    // The nine queued with it fail with it, untried, in the same statement.
    expect(log.lines[0]!.fields).toMatchObject({ reason: "retry window closed", events: 10, url_host: "dead.example", window: "1 min" });
    // Each later event is tried at most once when its turn comes, then fails one window after its creation.
    for (let i = 10; i < 20; i++) expect(sent.filter((s) => s.id === `evt_${i}`).length).toBeLessThanOrEqual(1);
    expect(outbox.rows.every((r) => r.status === "failed")).toBe(true);
    expect(clock.ms - T0_MS).toBe(60_000 + 19);
    expect(outbox.rows[0]!.lastError).toBe("retry window closed: still pending 1 min after it was queued (last error: HTTP 500)");
    expect(outbox.rows[1]!.lastError).toBe("retry window closed: still pending 1 min after it was queued");
    expect(log.lines.reduce((n, l) => n + Number(l.fields.events), 0)).toBe(20);
  });

  it("an event queued later keeps its own window: it is tried once the older ones failed, and fails one window after its creation", async () => {
    const outbox = new FakeOutbox();
    outbox.add("evt_1", A_URL, T0_MS);
    outbox.add("evt_2", A_URL, T0_MS + 30_000);
    const clock = { ms: T0_MS };
    const sent: Array<{ id: string; atMs: number }> = [];
    const fetcher: FetchLike = async (_url, init) => {
      sent.push({ id: init.headers["webhook-id"]!, atMs: clock.ms });
      return new Response(null, { status: 500 });
    };
    const failedAt: Record<string, number> = {};
    const options = { secretKey: KEY, fetcher, windowMs: 60_000, random: () => 0.5 };
    for (let i = 0; i < 1_000 && outbox.nextDueMs() !== null; i++) {
      clock.ms = Math.max(clock.ms, outbox.nextDueMs()!);
      await runDueDeliveries(outbox, { ...options, now: () => clock.ms });
      for (const row of outbox.rows) if (row.status === "failed") failedAt[row.eventId] ??= clock.ms;
    }
    expect(failedAt).toEqual({ evt_1: T0_MS + 60_000, evt_2: T0_MS + 90_000 });
    // evt_2 is 30 s old when it becomes the head: its retries follow its age (10 s, not 1 s, 2 s ...).
    const evt2 = sent.filter((s) => s.id === "evt_2").map((s) => s.atMs - T0_MS);
    expect(evt2).toEqual([60_000, 70_000, 80_000]);
  });

  it("once the head succeeds, the rest of the backlog goes out at once, in order", async () => {
    const outbox = new FakeOutbox();
    for (let i = 1; i <= 5; i++) outbox.add(`evt_${i}`, A_URL, T0_MS + i * 1_000);
    let down = true;
    const fake = fakeFetch(() => new Response(null, { status: down ? 500 : 204 }));
    const clock = { ms: T0_MS + 1_000 };
    const options = { secretKey: KEY, fetcher: fake.fetch, random: () => 0.5 };
    for (let i = 0; i < 5; i++) {
      clock.ms = Math.max(clock.ms, outbox.nextDueMs()!);
      await runDueDeliveries(outbox, { ...options, now: () => clock.ms });
    }
    down = false;
    clock.ms = outbox.nextDueMs()!;
    const summary = await runDueDeliveries(outbox, { ...options, now: () => clock.ms });
    expect(summary).toMatchObject({ attempted: 5, delivered: 5, nextDueMs: null });
    expect(fake.calls.filter((c) => c.init.headers["webhook-id"] !== "evt_1").map((c) => c.init.headers["webhook-id"])).toEqual(["evt_2", "evt_3", "evt_4", "evt_5"]);
  });
});

