/**
 * The webhook outbox (docs/DESIGN.md §7, §8) on a participant object's real SQLite in workerd: rows per
 * (event, URL), head-of-line order per URL, retries, settling, the alarm deadline, paging, purge.
 * Each test uses its own object and applies the object's schema migrations itself.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ParticipantSession } from "../../src/session/participant-session.js";
import type { DeepfakeAlert } from "../../src/protocol/events.js";
import { Schema } from "../../src/session/schema.js";
import { WebhookOutbox } from "../../src/webhooks/outbox.js";
import { runDueDeliveries, type FetchLike } from "../../src/webhooks/deliver.js";
import { formatWebhookSecret, parseWebhookSecret } from "../../src/webhooks/signing.js";

const T0_MS = 1_800_000_000_000;
const A = "https://a.example/hook";
const B = "https://b.example/hook";
const KEY = parseWebhookSecret(formatWebhookSecret(new Uint8Array(32).fill(3)));

function alert(n: number, participantId = "p"): DeepfakeAlert {
  return {
    type: "deepfake_alert",
    id: `evt_${n}`,
    level: n % 2 ? "suspicious" : "clear",
    previous_level: n % 2 ? "clear" : "suspicious",
    participant_id: participantId,
    room_id: null,
    track_id: "cam",
    message: `result ${n}`,
    timestamp_ms: T0_MS + n,
    reason: "result",
    simulated: false,
  };
}

let objectCounter = 0;

/** Runs fn inside a fresh participant object with the outbox table created. */
function withOutbox<T>(fn: (outbox: WebhookOutbox, sql: SqlStorage, storage: DurableObjectStorage) => T | Promise<T>): Promise<T> {
  const name = `outbox-${Date.now()}-${objectCounter++}`;
  const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName(name));
  return runInDurableObject(stub, async (_instance: ParticipantSession, state) => {
    const sql = state.storage.sql;
    // The object's own schema (history, outbox, ...), as a participant's first connection creates it.
    new Schema(sql).migrate();
    return fn(new WebhookOutbox(sql), sql, state.storage);
  });
}

const seqs = (rows: Array<{ seq: number }>) => rows.map((row) => row.seq);
/** The claim an outcome is recorded against (attempt = the number claim() returned). */
const claimOf = (row: { seq: number; eventId: string }, attempt = 1) => ({ seq: row.seq, eventId: row.eventId, attempt });

describe("WebhookOutbox on SQLite", () => {
  it("enqueues one pending row per URL with the §7 JSON body, idempotently", async () => {
    const rows = await withOutbox((outbox, sql) => {
      outbox.enqueue(alert(1), [A, B, A], T0_MS);
      outbox.enqueue(alert(1), [A, B], T0_MS + 5);
      expect(outbox.pendingCount()).toBe(2);
      return sql.exec("SELECT event_id, url, body, status, attempts, next_attempt_ms, created_ms FROM webhook_outbox ORDER BY seq").toArray();
    });
    const body = '{"type":"deepfake_alert","id":"evt_1","level":"suspicious","previous_level":"clear","participant_id":"p","room_id":null,"track_id":"cam","message":"result 1","timestamp_ms":1800000000001,"reason":"result","simulated":false}';
    expect(rows).toEqual([
      { event_id: "evt_1", url: A, body, status: "pending", attempts: 0, next_attempt_ms: T0_MS, created_ms: T0_MS },
      { event_id: "evt_1", url: B, body, status: "pending", attempts: 0, next_attempt_ms: T0_MS, created_ms: T0_MS },
    ]);
  });

  it("commits with the history row in one transaction, or not at all", async () => {
    const counts = await withOutbox((outbox, sql, storage) => {
      const insertHistory = (n: number) =>
        sql.exec("INSERT INTO history (event_id, previous_level, level, track_id, message, timestamp_ms) VALUES (?, 'clear', 'alert', 'cam', '', ?)", `evt_${n}`, T0_MS);
      storage.transactionSync(() => {
        insertHistory(1);
        outbox.enqueue(alert(1), [A], T0_MS);
      });
      expect(() =>
        storage.transactionSync(() => {
          insertHistory(2);
          outbox.enqueue(alert(2), [A], T0_MS);
          throw new Error("crash before commit");
        }),
      ).toThrow("crash before commit");
      return {
        history: sql.exec("SELECT event_id FROM history").toArray(),
        outbox: sql.exec("SELECT event_id FROM webhook_outbox").toArray(),
      };
    });
    expect(counts).toEqual({ history: [{ event_id: "evt_1" }], outbox: [{ event_id: "evt_1" }] });
  });

  it("makes only the oldest pending row of each URL due", async () => {
    await withOutbox((outbox) => {
      outbox.enqueue(alert(1), [A, B], T0_MS);
      outbox.enqueue(alert(2), [A, B], T0_MS + 10);
      outbox.enqueue(alert(3), [A], T0_MS + 20);
      expect(outbox.due(T0_MS - 1, 10)).toEqual([]);
      const due = outbox.due(T0_MS + 1_000, 10);
      expect(due.map((d) => [d.eventId, d.url, d.attempts])).toEqual([
        ["evt_1", A, 0],
        ["evt_1", B, 0],
      ]);
      expect(JSON.parse(due[0]!.body)).toMatchObject({ type: "deepfake_alert", id: "evt_1" });
      expect(outbox.due(T0_MS + 1_000, 1)).toHaveLength(1);
      expect(outbox.dueForUrl(A, T0_MS)?.eventId).toBe("evt_1");
      expect(outbox.nextDueMs()).toBe(T0_MS);
    });
  });

  it("a retry pushes next_attempt_ms and holds the URL's later events back; delivery releases them", async () => {
    await withOutbox((outbox) => {
      outbox.enqueue(alert(1), [A, B], T0_MS);
      outbox.enqueue(alert(2), [A, B], T0_MS);
      const [a1, b1] = outbox.due(T0_MS, 10);
      expect(outbox.claim(a1!.seq, T0_MS + 15_000, T0_MS)).toBe(1);
      expect(outbox.claim(a1!.seq, T0_MS + 15_000, T0_MS)).toBeNull(); // leased: a second run cannot take it
      outbox.markRetry(claimOf(a1!, 1), "HTTP 500", 500, T0_MS + 5_000, T0_MS + 10);
      outbox.claim(b1!.seq, T0_MS + 15_000, T0_MS);
      outbox.markDelivered(claimOf(b1!), 204, T0_MS + 20);

      // A's evt_2 is not due while evt_1 waits, however late it is; B's evt_2 is.
      expect(outbox.due(T0_MS + 4_999, 10).map((d) => [d.eventId, d.url])).toEqual([["evt_2", B]]);
      expect(outbox.dueForUrl(A, T0_MS + 4_999)).toBeNull();
      expect(outbox.nextDueMs()).toBe(T0_MS);
      const b2 = outbox.due(T0_MS + 4_999, 10)[0]!;
      outbox.claim(b2.seq, T0_MS + 15_000, T0_MS + 30);
      outbox.markDelivered(claimOf(b2), 200, T0_MS + 30);
      expect(outbox.nextDueMs()).toBe(T0_MS + 5_000);
      expect(outbox.due(T0_MS + 5_000, 10).map((d) => [d.eventId, d.url, d.attempts])).toEqual([["evt_1", A, 1]]);

      outbox.claim(a1!.seq, T0_MS + 20_000, T0_MS + 5_000);
      outbox.markDelivered(claimOf(a1!), 200, T0_MS + 5_010);
      expect(outbox.due(T0_MS + 5_010, 10).map((d) => [d.eventId, d.url])).toEqual([["evt_2", A]]);
      expect(outbox.list({ limit: 10 }).map((e) => [e.event_id, e.url, e.status, e.attempts, e.last_status, e.last_error])).toEqual([
        ["evt_1", A, "delivered", 2, 200, null],
        ["evt_1", B, "delivered", 1, 204, null],
        ["evt_2", A, "pending", 0, null, null],
        ["evt_2", B, "delivered", 1, 200, null],
      ]);
    });
  });

  it("drops the body once delivered (§8) and keeps it on failed rows", async () => {
    const rows = await withOutbox((outbox, sql) => {
      outbox.enqueue(alert(1), [A, B], T0_MS);
      const [a, b] = outbox.due(T0_MS, 10);
      outbox.markDelivered(claimOf(a!), 200, T0_MS);
      outbox.markFailed(claimOf(b!), "HTTP 410", 410, T0_MS);
      return sql.exec("SELECT url, status, body IS NULL AS no_body, next_attempt_ms FROM webhook_outbox ORDER BY seq").toArray();
    });
    expect(rows).toEqual([
      { url: A, status: "delivered", no_body: 1, next_attempt_ms: null },
      { url: B, status: "failed", no_body: 0, next_attempt_ms: null },
    ]);
  });

  it("with runDueDeliveries: retries on schedule, marks failed after the last attempt, then the next event goes", async () => {
    await withOutbox(async (outbox) => {
      outbox.enqueue(alert(1), [A], T0_MS);
      outbox.enqueue(alert(2), [A], T0_MS);
      let clock = T0_MS;
      const sent: string[] = [];
      const fetcher: FetchLike = async (_url, init) => {
        sent.push(`${init.headers["webhook-id"]}@${init.headers["webhook-timestamp"]}`);
        return new Response(null, { status: init.headers["webhook-id"] === "evt_1" ? 503 : 200 });
      };
      const failures: unknown[] = [];
      const options = { secretKey: KEY, fetcher, now: () => clock, schedule: [1_000, 2_000], random: () => 0.5, log: (_l: string, _m: string, f: unknown) => void failures.push(f) };
      expect(await runDueDeliveries(outbox, options)).toMatchObject({ attempted: 1, retried: 1, nextDueMs: T0_MS + 1_000 });
      clock = T0_MS + 1_000;
      expect(await runDueDeliveries(outbox, options)).toMatchObject({ attempted: 1, retried: 1, nextDueMs: T0_MS + 3_000 });
      clock = T0_MS + 3_000;
      expect(await runDueDeliveries(outbox, options)).toMatchObject({ attempted: 2, failed: 1, delivered: 1, nextDueMs: null });
      expect(sent).toEqual(["evt_1@1800000000", "evt_1@1800000001", "evt_1@1800000003", "evt_2@1800000003"]);
      expect(failures).toEqual([expect.objectContaining({ event: "evt_1", url_host: "a.example", status: 503, attempts: 3 })]);
      expect(outbox.list({ status: "failed", limit: 10 })).toEqual([
        expect.objectContaining({ event_id: "evt_1", status: "failed", attempts: 3, last_status: 503, last_error: expect.stringMatching(/^HTTP 503/), next_attempt_ms: null }),
      ]);
      expect(outbox.pendingCount()).toBe(0);
      expect(outbox.statusCounts()).toEqual({ pending: 0, delivered: 1, failed: 1 });
    });
  });

  it("nextDueMs is the earliest head-of-line deadline, null when nothing is pending", async () => {
    await withOutbox((outbox) => {
      expect(outbox.nextDueMs()).toBeNull();
      outbox.enqueue(alert(1), [A], T0_MS + 100);
      outbox.enqueue(alert(2), [A], T0_MS + 50); // queued behind evt_1: not a deadline of its own
      outbox.enqueue(alert(3), [B], T0_MS + 200);
      expect(outbox.nextDueMs()).toBe(T0_MS + 100);
      const a1 = outbox.due(T0_MS + 100, 10)[0]!;
      outbox.markRetry(claimOf(a1, 0), "HTTP 500", 500, T0_MS + 9_000, T0_MS + 100);
      expect(outbox.nextDueMs()).toBe(T0_MS + 200);
      outbox.markFailed(claimOf(a1), "gave up", 500, T0_MS + 100);
      expect(outbox.nextDueMs()).toBe(T0_MS + 50);
      outbox.purgeAll();
      expect(outbox.nextDueMs()).toBeNull();
      expect(outbox.pendingCount()).toBe(0);
      expect(outbox.list({ limit: 10 })).toEqual([]);
    });
  });

  it("fails the pending rows of URLs no longer configured, leaving settled rows alone", async () => {
    await withOutbox((outbox) => {
      outbox.enqueue(alert(1), [A, B], T0_MS);
      outbox.enqueue(alert(2), [A, B], T0_MS);
      const b1 = outbox.dueForUrl(B, T0_MS)!;
      outbox.markDelivered(claimOf(b1), 200, T0_MS);
      expect(outbox.abandonUrlsNotIn([A], T0_MS + 1)).toBe(1);
      expect(outbox.list({ limit: 10 }).map((e) => [e.event_id, e.url, e.status, e.last_error])).toEqual([
        ["evt_1", A, "pending", null],
        ["evt_1", B, "delivered", null],
        ["evt_2", A, "pending", null],
        ["evt_2", B, "failed", "url no longer configured"],
      ]);
      expect(outbox.abandonUrlsNotIn([], T0_MS + 2)).toBe(2);
      expect(outbox.pendingCount()).toBe(0);
      expect(outbox.nextDueMs()).toBeNull();
    });
  });

  it("lists oldest first, pages with afterSeq and filters by status", async () => {
    await withOutbox((outbox) => {
      for (let n = 1; n <= 5; n++) outbox.enqueue(alert(n), [A], T0_MS + n);
      const [head] = outbox.due(T0_MS + 10, 10);
      outbox.markDelivered(claimOf(head!), 200, T0_MS + 10);
      const page1 = outbox.list({ limit: 2 });
      const page2 = outbox.list({ limit: 2, afterSeq: page1.at(-1)!.seq });
      const page3 = outbox.list({ limit: 2, afterSeq: page2.at(-1)!.seq });
      expect([page1, page2, page3].map((page) => page.map((e) => e.event_id))).toEqual([["evt_1", "evt_2"], ["evt_3", "evt_4"], ["evt_5"]]);
      expect(seqs(page2)[0]).toBeGreaterThan(seqs(page1)[1]!);
      expect(outbox.list({ limit: 2, afterSeq: page3.at(-1)!.seq })).toEqual([]);
      expect(outbox.list({ status: "pending", limit: 10 }).map((e) => e.event_id)).toEqual(["evt_2", "evt_3", "evt_4", "evt_5"]);
      expect(outbox.list({ status: "delivered", limit: 10 })).toEqual([
        {
          seq: head!.seq,
          event_id: "evt_1",
          url: A,
          status: "delivered",
          attempts: 0,
          next_attempt_ms: null,
          last_error: null,
          last_status: 200,
          created_ms: T0_MS + 1,
          updated_ms: T0_MS + 10,
          redelivery_of: null,
        },
      ]);
      expect(outbox.list({ limit: 0 })).toHaveLength(1); // limits are clamped to [1, 1000]
    });
  });
});
