/**
 * Webhook delivery in the participant object (docs/DESIGN.md §6, §7, §8) on workerd's real SQLite and
 * alarm: the retry window failing a dead consumer's backlog together, retention running once nothing
 * is pending, runs bounded in time whatever the consumer does, redelivery, and the schema migration
 * that made redelivery rows possible. The pool's consumer is http://127.0.0.1:9/hook (nothing listens).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeepfakeAlert } from "../../src/protocol/events.js";
import { RetentionDeadline, WebhookDeadline } from "../../src/session/deadlines.js";
import type { ParticipantSession } from "../../src/session/participant-session.js";
import { Schema } from "../../src/session/schema.js";
import { DEADLINES_DDL, SessionStore, STORE_TABLES_DDL } from "../../src/session/store.js";
import { parseWebhookConfig } from "../../src/webhooks/config.js";
import type { FetchLike } from "../../src/webhooks/deliver.js";
import { OUTBOX_MIGRATION } from "../../src/webhooks/outbox-schema.js";
import { WebhookOutbox } from "../../src/webhooks/outbox.js";
import { formatWebhookSecret } from "../../src/webhooks/signing.js";
import { ADMIN, admin, call, connect, mintToken, rgbFrame, steer, stubFor, transition, waitUntil } from "./helpers.js";

const DAY_MS = 24 * 3_600_000;
const SECRET = formatWebhookSecret(new Uint8Array(32).fill(5));

afterEach(() => {
  vi.restoreAllMocks();
});


interface Row {
  seq: number;
  event_id: string;
  status: string;
  attempts: number;
  next_attempt_ms: number | null;
  last_error: string | null;
  body: string | null;
  redelivery_of: number | null;
}

function rows(id: string): Promise<Row[]> {
  return runInDurableObject(stubFor(id), (_i: ParticipantSession, state) =>
    state.storage.sql.exec("SELECT seq, event_id, status, attempts, next_attempt_ms, last_error, body, redelivery_of FROM webhook_outbox ORDER BY seq").toArray() as unknown as Row[],
  );
}

async function snapshot(id: string): Promise<{ webhooks: Record<string, number>; retention_purge_at_ms: number | null }> {
  return (await admin(`/v1/participants/${id}`)).json();
}

/** Three days pass for the outbox: rows were queued 3 d + 1 s ago, and the head's retry came due at its window's close. */
function threeDaysLater(id: string): Promise<void> {
  return runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => {
    state.storage.sql.exec("UPDATE webhook_outbox SET created_ms = created_ms - ?", 3 * DAY_MS + 1_000);
    state.storage.sql.exec("UPDATE webhook_outbox SET next_attempt_ms = created_ms + ? WHERE status = 'pending' AND attempts > 0", 3 * DAY_MS);
    // Keep the alarm in the future so that runDurableObjectAlarm, not the runtime, fires it.
    return state.storage.setAlarm(Date.now() + 3_600_000);
  });
}

function alert(n: number): DeepfakeAlert {
  return { type: "deepfake_alert", id: `evt_${n}`, level: "alert", previous_level: "clear", participant_id: "p", room_id: null, track_id: "cam", message: `m${n}`, timestamp_ms: 1_800_000_000_000 + n, reason: "result", simulated: false };
}

/** A fresh object with its schema, for parts driven directly. */
function withParts<T>(name: string, fn: (parts: { outbox: WebhookOutbox; store: SessionStore; sql: SqlStorage }) => Promise<T>): Promise<T> {
  return runInDurableObject(stubFor(`${name}-${Date.now()}`), (_i: ParticipantSession, state) => {
    new Schema(state.storage.sql).migrate();
    return fn({ outbox: new WebhookOutbox(state.storage.sql), store: new SessionStore(state.storage.sql), sql: state.storage.sql });
  });
}

describe("the retry window (default 3 days) through the object's alarm", () => {
  it("fails a dead consumer's whole backlog together when it closes; then the retention purge is armed and runs", async () => {
    const id = "win-backlog";
    const alerts = [await transition(id, "suspicious"), await transition(id, "alert"), await transition(id, "clear")];
    await waitUntil(async () => (await rows(id))[0]?.attempts === 1);
    let snap = await snapshot(id);
    expect(snap.webhooks).toEqual({ pending: 3, delivered: 0, failed: 0 });
    // Pending rows hold retention back: nothing is scheduled yet.
    expect(snap.retention_purge_at_ms).toBeNull();

    await threeDaysLater(id);
    expect(await runDurableObjectAlarm(stubFor(id))).toBe(true);
    const failed = await rows(id);
    expect(failed.map((r) => [r.event_id, r.status])).toEqual(alerts.map((a) => [a.id, "failed"]));
    expect(failed[0]!.attempts).toBe(1); // not tried again once the window had closed
    expect(failed[0]!.last_error).toMatch(/^retry window closed: still pending 3 d after it was queued \(last error: .+\)$/);
    for (const row of failed.slice(1)) {
      expect(row).toMatchObject({ attempts: 0, last_error: "retry window closed: still pending 3 d after it was queued" });
      expect(row.body).not.toBeNull(); // kept for a redelivery
    }

    // Nothing pending any more: the retention purge is armed (24 h), and the alarm with it.
    snap = await snapshot(id);
    expect(snap.webhooks).toEqual({ pending: 0, delivered: 0, failed: 3 });
    expect(snap.retention_purge_at_ms! - Date.now()).toBeGreaterThan(23 * 3_600_000);
    await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => {
      // One alarm for every deadline: the purge, or earlier if a track of the last socket still counts.
      const alarmAt = await state.storage.getAlarm();
      expect(alarmAt).not.toBeNull();
      expect(alarmAt!).toBeLessThanOrEqual(snap.retention_purge_at_ms!);
      state.storage.sql.exec("UPDATE deadlines SET at_ms = ? WHERE name = 'retention'", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stubFor(id))).toBe(true);
    expect((await admin(`/v1/participants/${id}`)).status).toBe(404);
  });

  it("with WEBHOOK_RETRY_WINDOW=1s: a burst queued together fails together, in one run, with the reason", async () => {
    const config = parseWebhookConfig({ WEBHOOK_URLS: "http://127.0.0.1:9/hook", WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_WINDOW: "1s", WEBHOOK_TIMEOUT_MS: "500" });
    await withParts("win-short", async ({ outbox, store }) => {
      const part = new WebhookDeadline(outbox, store, config, { ready: () => true, logFields: () => ({}), claimed: () => {} });
      const queuedAt = Date.now();
      for (let n = 1; n <= 5; n++) outbox.enqueue(alert(n), config.urls, queuedAt);
      await part.run();
      expect(outbox.statusCounts()).toEqual({ pending: 5, delivered: 0, failed: 0 });
      // The head's retries never go past its window's close.
      expect(part.nextDeadline()).toBeLessThanOrEqual(queuedAt + 1_000);
      await new Promise((r) => setTimeout(r, Math.max(0, queuedAt + 1_050 - Date.now())));
      await part.run();
      expect(outbox.statusCounts()).toEqual({ pending: 0, delivered: 0, failed: 5 });
      expect(new Set(outbox.list({ limit: 10 }).map((e) => e.updated_ms)).size).toBe(1); // one statement
      expect(outbox.list({ limit: 10 }).every((e) => e.last_error?.startsWith("retry window closed: still pending 1 s after it was queued"))).toBe(true);
      expect(part.nextDeadline()).toBeNull();
    });
  });

  it("retention waits while a row is pending, and is armed once the window failed it", async () => {
    const config = parseWebhookConfig({ WEBHOOK_URLS: "http://127.0.0.1:9/hook", WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_WINDOW: "500ms" });
    await withParts("win-retention", async ({ outbox, store }) => {
      const retention = new RetentionDeadline(store, 3_600_000, { ready: () => true, idle: () => outbox.pendingCount() === 0, purge: async () => {} });
      const part = new WebhookDeadline(outbox, store, config, { ready: () => true, logFields: () => ({}), claimed: () => {} });
      outbox.enqueue(alert(1), config.urls, Date.now() - 600);
      retention.refresh(Date.now());
      expect(retention.nextDeadline()).toBeNull();
      await part.run();
      const now = Date.now();
      expect(retention.nextDeadline()).toBeNull(); // reading the deadline stores nothing
      retention.refresh(now);
      expect(retention.nextDeadline()).toBe(now + 3_600_000);
    });
  });
});

describe("bounded runs", () => {
  it("a slow consumer and a hanging one: the run stops starting attempts inside its budget and leaves the rest due", async () => {
    const base = parseWebhookConfig({ WEBHOOK_URLS: "https://slow.example/,https://hang.example/", WEBHOOK_SECRET: SECRET, WEBHOOK_TIMEOUT_MS: "400" });
    const config = { ...base, runBudgetMs: 700 };
    // The slow consumer accepts after 250 ms; the other never answers.
    const fetcher: FetchLike = (url) => (url.includes("slow") ? new Promise((r) => setTimeout(() => r(new Response(null, { status: 204 })), 250)) : new Promise(() => {}));
    await withParts("budget", async ({ outbox, store }) => {
      const armedAt: Array<number | null> = [];
      const part = new WebhookDeadline(outbox, store, config, {
        ready: () => true, logFields: () => ({}), claimed: () => armedAt.push(part.nextDeadline()), fetcher,
      });
      for (let n = 1; n <= 6; n++) outbox.enqueue(alert(n), config.urls, Date.now());
      const startedMs = Date.now();
      await part.run();
      const elapsedMs = Date.now() - startedMs;
      // Attempts to the slow URL start at 0 and 250 ms; at 500 ms one could run to 900 ms, past 700.
      expect(elapsedMs).toBeLessThan(700 + 150);
      const listed = outbox.list({ limit: 20 });
      expect(listed.filter((e) => e.url.includes("slow") && e.status === "delivered").length).toBeGreaterThanOrEqual(1);
      expect(listed.filter((e) => e.url.includes("slow") && e.status === "delivered").length).toBeLessThanOrEqual(2);
      expect(listed.find((e) => e.url.includes("hang"))).toMatchObject({ status: "pending", attempts: 1, last_error: "timed out after 400 ms" });
      // What is left is due now: the object re-arms its alarm at once for the next run.
      expect(part.nextDeadline()).toBeLessThanOrEqual(Date.now());
      expect(armedAt.at(-1)).toBeLessThanOrEqual(Date.now());
      // Re-armed at the claims, at every outcome and when the run stopped, not only at its end.
      expect(armedAt.length).toBeGreaterThanOrEqual(4);
    });
  });

  it("the object's alarm with a hanging consumer returns at once; the attempt's timeout re-arms it at the retry", async () => {
    const id = "hang-alarm";
    await transition(id, "alert");
    await waitUntil(async () => (await rows(id))[0]?.attempts === 1);
    // From now on the consumer accepts connections and never answers.
    vi.spyOn(globalThis, "fetch").mockImplementation(() => new Promise(() => {}));
    await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => {
      state.storage.sql.exec("UPDATE webhook_outbox SET next_attempt_ms = ? WHERE status = 'pending'", Date.now() - 1);
      return state.storage.setAlarm(Date.now() + 3_600_000);
    });
    const startedMs = Date.now();
    expect(await runDurableObjectAlarm(stubFor(id))).toBe(true);
    // The handler does not wait for the consumer (WEBHOOK_TIMEOUT_MS in the pool is 500): other
    // URLs' retries and the other deadlines are never held up behind it.
    expect(Date.now() - startedMs).toBeLessThan(450);
    expect((await rows(id))[0]).toMatchObject({ status: "pending", attempts: 2 });
    await waitUntil(async () => (await rows(id))[0]?.last_error === "timed out after 500 ms", 3_000);
    const [row] = await rows(id);
    const alarm = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => state.storage.getAlarm());
    expect(alarm).toBe(row!.next_attempt_ms);
  });
});

describe("POST /v1/participants/:id/webhooks/:seq/redeliver", () => {
  it("queues a failed event again (same id and body), refuses a second request while queued, 404s an unknown seq", async () => {
    const id = "redeliver-failed";
    const first = await transition(id, "suspicious");
    await waitUntil(async () => (await rows(id))[0]?.attempts === 1);
    await threeDaysLater(id);
    await runDurableObjectAlarm(stubFor(id));
    const [original] = await rows(id);
    expect(original).toMatchObject({ event_id: first.id, status: "failed" });

    expect((await call(`/v1/participants/${id}/webhooks/${original!.seq}/redeliver`, { method: "POST" })).status).toBe(401);
    expect((await admin(`/v1/participants/${id}/webhooks/0/redeliver`, { method: "POST" })).status).toBe(400);
    expect((await admin(`/v1/participants/${id}/webhooks/x/redeliver`, { method: "POST" })).status).toBe(400);
    const unknown = await admin(`/v1/participants/${id}/webhooks/999/redeliver`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "unknown_webhook" });
    expect((await admin(`/v1/participants/never-seen-redeliver/webhooks/1/redeliver`, { method: "POST" })).status).toBe(404);

    const res = await admin(`/v1/participants/${id}/webhooks/${original!.seq}/redeliver`, { method: "POST" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { seq: number };
    expect(body).toEqual({ seq: original!.seq + 1, event_id: first.id, url: "http://127.0.0.1:9/hook", status: "pending", redelivery_of: original!.seq });
    const again = await admin(`/v1/participants/${id}/webhooks/${original!.seq}/redeliver`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "already_pending" });

    await waitUntil(async () => (await rows(id))[1]?.attempts === 1);
    const [kept, redelivery] = await rows(id);
    expect(kept).toMatchObject({ status: "failed", seq: original!.seq });
    expect(redelivery).toMatchObject({ event_id: first.id, status: "pending", redelivery_of: original!.seq, body: original!.body });
    const listed = (await (await admin(`/v1/participants/${id}/webhooks`)).json()) as { webhooks: Array<{ seq: number; redelivery_of: number | null }> };
    expect(listed.webhooks.map((w) => [w.seq, w.redelivery_of])).toEqual([[original!.seq, null], [body.seq, original!.seq]]);
  });

  it("a delivered event (its body dropped) is rebuilt from the history, identical", async () => {
    const id = "redeliver-delivered";
    await transition(id, "alert");
    await waitUntil(async () => (await rows(id))[0]?.attempts === 1);
    const [pending] = await rows(id);
    // As if the consumer had accepted it: settled, body dropped (§8).
    await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => {
      state.storage.sql.exec("UPDATE webhook_outbox SET status = 'delivered', body = NULL, next_attempt_ms = NULL WHERE seq = ?", pending!.seq);
    });
    const res = await admin(`/v1/participants/${id}/webhooks/${pending!.seq}/redeliver`, { method: "POST" });
    expect(res.status).toBe(200);
    const [, redelivery] = await rows(id);
    expect(redelivery!.body).toBe(pending!.body);
  });
});

describe("schema v4: the outbox rebuilt for redelivery rows", () => {
  it("keeps existing rows and their seqs, still deduplicates an event's own rows, and allows redeliveries", async () => {
    await runInDurableObject(stubFor(`migrate-${Date.now()}`), (_i: ParticipantSession, state) => {
      const sql = state.storage.sql;
      // A version 3 database, as deployed before.
      for (const ddl of [STORE_TABLES_DDL, OUTBOX_MIGRATION, DEADLINES_DDL]) sql.exec(ddl);
      sql.exec("CREATE TABLE _schema (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL)");
      sql.exec("INSERT INTO _schema (singleton, version) VALUES (1, 3)");
      const insert = "INSERT INTO webhook_outbox (event_id, url, body, status, attempts, next_attempt_ms, created_ms, updated_ms) VALUES (?, 'https://a.example/', ?, ?, 1, ?, ?, ?)";
      sql.exec(insert, "evt_1", null, "delivered", null, 1_000, 5_000);
      sql.exec(insert, "evt_2", '{"id":"evt_2"}', "pending", 2_000, 2_000, 2_000);

      // through the redelivery rebuild (4), the per-track rows (5), the rooms (6) and the checks (7)
      expect(new Schema(sql).migrate()).toBe(7);
      const outbox = new WebhookOutbox(sql);
      expect(outbox.list({ limit: 10 }).map((e) => [e.seq, e.event_id, e.status, e.redelivery_of])).toEqual([
        [1, "evt_1", "delivered", null],
        [2, "evt_2", "pending", null],
      ]);
      outbox.enqueue(alert(2), ["https://a.example/"], 6_000); // idempotent per (event, URL)
      expect(outbox.pendingCount()).toBe(1);
      const seq = outbox.enqueueRedelivery(outbox.get(1)!, '{"id":"evt_1"}', 7_000);
      expect(seq).toBeGreaterThan(2); // (a skipped duplicate may use up a seq)
      expect(outbox.due(8_000, 10).map((d) => d.seq)).toEqual([2]); // behind evt_2
      expect(outbox.list({ limit: 10 }).at(-1)).toMatchObject({ seq, event_id: "evt_1", status: "pending", redelivery_of: 1, created_ms: 7_000 });
    });
  });
});
