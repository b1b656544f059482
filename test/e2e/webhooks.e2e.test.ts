/**
 * End-to-end: signed webhooks from a durable outbox (docs/DESIGN.md §4, §6, §7, §8) against a real
 * `wrangler dev`, a fake Dataspike API pushing ResultEvents, and two webhook sinks that verify every
 * delivery with the official `standardwebhooks` package.
 *
 * Runs with the DEFAULT retry schedule (no WEBHOOK_RETRY_SCHEDULE override: what users get), during
 * a secret rotation (WEBHOOK_SECRET_PREVIOUS set): sink A verifies with the current secret, sink B
 * with the previous one.
 *
 * Proves: every transition arrives exactly once, signed and in order, at every URL; a consumer that
 * answers 500 for 20 s gets every pending event within 15 s of recovering, in order, intact; a
 * webhook pending when the dev server is killed with SIGKILL while the consumer is down is delivered
 * within 15 s of both being back, by the alarm alone, and the snapshot keeps the last level; every
 * request verifies with the official library under either key; a redelivery arrives with the same
 * webhook-id, behind what was pending; DELETE purges. Measured latency from the upstream result to
 * webhook receipt is logged with a `[measure]` prefix.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connectParticipant, mintConnectToken, type ParticipantClient, type ServiceEvent } from "./harness/client.js";
import { FakeUpstream, productionVars, type ResultTypeName } from "./harness/fake-upstream.js";
import { WebhookSink, type SinkDelivery } from "./harness/webhook-sink.js";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";
import type { DeepfakeAlert } from "../../src/protocol/events.js";

const API_KEY = "webhooks-key";
const ADMIN_KEY = "webhooks-admin-0123456789";
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** The secret being rotated out: the service signs with both. */
const PREVIOUS_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** A key the service does not have: requests must not verify under it. */
const OTHER_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** The first delays of the default schedule (src/config/limits.ts), ± 10 % jitter. */
const DEFAULT_SCHEDULE_MS = [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000];
const JITTER = 0.1;
/** The promise of the default schedule after an outage of up to 2 minutes. */
const RECOVERY_MS = 15_000;
const TRACK = "cam-1";
const RUN = Date.now().toString(36);

type Level = DeepfakeAlert["level"];
type Alert = DeepfakeAlert;

interface OutboxRow {
  seq: number;
  event_id: string;
  url: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_ms: number | null;
  last_error: string | null;
  last_status: number | null;
}

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Nearest-rank percentile of an unsorted list. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

function stats(values: number[]): string {
  return `n=${values.length} p50=${percentile(values, 0.5)} ms p99=${percentile(values, 0.99)} ms max=${Math.max(...values)} ms`;
}

let fake: FakeUpstream;
let sinkA: WebhookSink;
let sinkB: WebhookSink;
let dev: WranglerDev;
let persistDir: string;
let vars: Record<string, string>;
/** wrangler output of instances that were killed, kept for the artifact and the privacy check. */
let earlierLogs = "";

const allLogs = (): string => earlierLogs + (dev?.logs() ?? "");

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  // Every request is checked with the official library under both keys (and refused under another).
  sinkA = await WebhookSink.start({ secret: SECRET, path: "/hooks/a", alsoVerifyWith: [PREVIOUS_SECRET, OTHER_SECRET] });
  sinkB = await WebhookSink.start({ secret: PREVIOUS_SECRET, path: "/hooks/b", alsoVerifyWith: [SECRET, OTHER_SECRET] });
  // Owned here (not by the harness) so it survives kill9() and a restart reuses it.
  persistDir = mkdtempSync(join(tmpdir(), "deepfake-edge-webhooks-"));
  vars = productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, {
    WEBHOOK_URLS: `${sinkA.url},${sinkB.url}`,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_SECRET_PREVIOUS: PREVIOUS_SECRET,
    // No WEBHOOK_RETRY_SCHEDULE, WEBHOOK_RETRY_WINDOW or WEBHOOK_TIMEOUT_MS: the defaults.
    // Close the upstream soon after a test's client leaves, so fake.sendResult reaches one participant only.
    UPSTREAM_IDLE_CLOSE_MS: "200",
  });
  dev = await startWranglerDev({ vars, persistTo: persistDir });
  measure(`wrangler dev healthy at ${dev.url}; sinks ${sinkA.url} ${sinkB.url}`);
});

afterAll(async () => {
  const logs = allLogs();
  await dev?.stop();
  await fake?.close();
  await sinkA?.close();
  await sinkB?.close();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
  const dir = join(REPO_ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "e2e-webhooks-wrangler.log"), logs);
});

// ---- helpers ------------------------------------------------------------------------------------

async function api(method: "GET" | "DELETE" | "POST", path: string, adminKey: string | null = ADMIN_KEY): Promise<{ status: number; body: any }> {
  const res = await fetch(`${dev.url}${path}`, { method, headers: adminKey === null ? {} : { authorization: `Bearer ${adminKey}` } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the failure message
  }
  return { status: res.status, body };
}

/** The whole history, oldest first, through the paginated route (small pages on purpose). */
async function allEvents(pid: string): Promise<Alert[]> {
  const events: Alert[] = [];
  let after: string | null = null;
  for (;;) {
    const query = `limit=40${after === null ? "" : `&after=${after}`}`;
    const res = await api("GET", `/v1/participants/${pid}/events?${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    events.push(...(res.body.events as Alert[]));
    after = res.body.next_after as string | null;
    if (after === null) return events;
  }
}

/** The whole outbox, through the paginated route. */
async function allWebhooks(pid: string, status?: string): Promise<{ counts: { pending: number; delivered: number; failed: number }; rows: OutboxRow[] }> {
  const rows: OutboxRow[] = [];
  let after: number | null = null;
  let counts = { pending: -1, delivered: -1, failed: -1 };
  for (;;) {
    const query = `limit=50${status === undefined ? "" : `&status=${status}`}${after === null ? "" : `&after=${after}`}`;
    const res = await api("GET", `/v1/participants/${pid}/webhooks?${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    counts = { pending: res.body.pending, delivered: res.body.delivered, failed: res.body.failed };
    rows.push(...(res.body.webhooks as OutboxRow[]));
    after = res.body.next_after as number | null;
    if (after === null) return { counts, rows };
  }
}

/** A client on `pid` with the object's upstream connected (the only upstream socket open). */
async function openSession(pid: string): Promise<ParticipantClient> {
  await fake.waitFor(() => fake.sockets.size === 0, 15_000, "no upstream socket left over from an earlier test");
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, pid, 600);
  const client = await connectParticipant(dev.url, pid, token);
  await client.waitFor((e) => e.type === "ready", 10_000);
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
  await fake.waitFor(() => fake.sockets.size === 1, 5_000, "one upstream socket");
  return client;
}

async function closeSession(client: ParticipantClient | null): Promise<void> {
  if (client === null) return;
  await client.close();
  await fake.waitFor(() => fake.sockets.size === 0, 15_000, "the upstream to close after the last client left");
}

/** Polls `predicate` every 10 ms; returns when it first held, or null after `timeoutMs`. */
async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return null;
    await sleep(10);
  }
  return Date.now();
}

const isAlert = (e: ServiceEvent): boolean => e.type === "deepfake_alert";

function clientAlerts(client: ParticipantClient): Alert[] {
  return client.ofType("deepfake_alert").map((e) => e.event as unknown as Alert);
}

/** Sends one result; expects exactly one upstream socket (the participant under test) to get it. */
function push(pid: string, type: ResultTypeName, message: string): number {
  const sentAt = Date.now();
  expect(fake.sendResult(type, pid, TRACK, message)).toBe(1);
  return sentAt;
}

function bodyOf(delivery: SinkDelivery): Alert | null {
  try {
    return JSON.parse(delivery.body) as Alert;
  } catch {
    return null;
  }
}

/** Every request a sink got for one participant's events. */
function deliveriesFor(sink: WebhookSink, pid: string): SinkDelivery[] {
  return sink.deliveries.filter((d) => bodyOf(d)?.participant_id === pid);
}

function acceptedFor(sink: WebhookSink, pid: string): SinkDelivery[] {
  return deliveriesFor(sink, pid).filter((d) => d.status >= 200 && d.status <= 299);
}

/**
 * What a consumer must see at one URL: every request signed and verified, each event accepted exactly
 * once, no request for an event after it was accepted, accepted in history order, and no event
 * attempted before the previous one was accepted (head-of-line order per URL).
 */
function expectDeliveredInOrder(sink: WebhookSink, pid: string, events: Alert[]): void {
  const requests = deliveriesFor(sink, pid);
  for (const d of requests) {
    expect(d.verified, `${sink.url} ${d.id}: ${d.verifyError}`).toBe(true);
    expect(d.method).toBe("POST");
    expect(d.contentType).toMatch(/^application\/json/);
    expect(bodyOf(d)?.id).toBe(d.id);
  }
  const accepted = requests.filter((d) => d.status >= 200 && d.status <= 299);
  expect(accepted.map((d) => d.id)).toEqual(events.map((e) => e.id));
  for (const [i, event] of events.entries()) {
    const forId = requests.filter((d) => d.id === event.id);
    // The accepted request is the last one for this id: nothing was re-sent after success.
    expect(forId[forId.length - 1]?.status, `${sink.url} ${event.id}`).toBeGreaterThanOrEqual(200);
    expect(forId.filter((d) => d.status >= 200 && d.status <= 299)).toHaveLength(1);
    expect(bodyOf(forId[0]!)).toEqual(event);
    if (i > 0) {
      const previousAcceptedAt = accepted[i - 1]!.atMs;
      expect(forId[0]!.atMs, `${event.id} attempted before the previous event was accepted`).toBeGreaterThanOrEqual(previousAcceptedAt);
    }
  }
}

/** Single-track model of the state machine: the level is the track's latest result. */
function expectedTransitions(script: ResultTypeName[]): Array<{ previous_level: Level; level: Level; message: string }> {
  let level: Level = "clear";
  const out: Array<{ previous_level: Level; level: Level; message: string }> = [];
  script.forEach((type, i) => {
    const next = type.toLowerCase() as Level;
    if (next !== level) out.push({ previous_level: level, level: next, message: `r${i}-${type}` });
    level = next;
  });
  return out;
}

// ---- tests --------------------------------------------------------------------------------------

describe("healthy consumers", () => {
  const pid = `wh-healthy-${RUN}`;
  let client: ParticipantClient | null = null;
  afterAll(async () => closeSession(client));

  it("delivers every transition exactly once to every URL, signed, in order, equal to the client's event; repeats send nothing", async () => {
    client = await openSession(pid);
    const script: ResultTypeName[] = [
      "SUSPICIOUS", "SUSPICIOUS", "ALERT", "ALERT", "CLEAR", "CLEAR", "ALERT",
      "SUSPICIOUS", "SUSPICIOUS", "CLEAR", "SUSPICIOUS", "ALERT", "CLEAR",
    ];
    const expected = expectedTransitions(script);
    expect(expected.length).toBeGreaterThanOrEqual(6);

    // Back to back (15 ms apart): several deliveries are in flight at once, and must still keep order.
    const sentAt: number[] = [];
    for (const [i, type] of script.entries()) {
      const at = push(pid, type, `r${i}-${type}`);
      if (expected.some((t) => t.message === `r${i}-${type}`)) sentAt.push(at);
      await sleep(15);
    }
    await client.waitFor(() => clientAlerts(client!).length >= expected.length, 10_000);
    await sinkA.waitFor(() => acceptedFor(sinkA, pid).length >= expected.length, 10_000, `${expected.length} deliveries`);
    await sinkB.waitFor(() => acceptedFor(sinkB, pid).length >= expected.length, 10_000, `${expected.length} deliveries`);
    // Room for a duplicate or a webhook for a repeat to show up.
    await sleep(1_500);

    const alerts = clientAlerts(client);
    expect(alerts.map((a) => ({ previous_level: a.previous_level, level: a.level, message: a.message }))).toEqual(expected);
    for (const alert of alerts) {
      expect(alert).toMatchObject({ type: "deepfake_alert", participant_id: pid, track_id: TRACK });
      expect(alert.id).toMatch(/^evt_/);
    }
    expect(new Set(alerts.map((a) => a.id)).size).toBe(alerts.length);

    const history = await allEvents(pid);
    expect(history.map((e) => e.id)).toEqual(alerts.map((a) => a.id));
    expect(history).toEqual(alerts);

    for (const sink of [sinkA, sinkB]) {
      expect(deliveriesFor(sink, pid)).toHaveLength(expected.length);
      expectDeliveredInOrder(sink, pid, alerts);
    }

    const { counts, rows } = await allWebhooks(pid);
    expect(counts).toEqual({ pending: 0, delivered: 2 * expected.length, failed: 0 });
    for (const row of rows) {
      expect(row).toMatchObject({ status: "delivered", attempts: 1, last_status: 204, last_error: null, next_attempt_ms: null });
      expect([sinkA.url, sinkB.url]).toContain(row.url);
    }
    for (const sink of [sinkA, sinkB]) {
      expect(rows.filter((r) => r.url === sink.url).map((r) => r.event_id)).toEqual(alerts.map((a) => a.id));
    }

    const snapshot = await api("GET", `/v1/participants/${pid}`);
    expect(snapshot.status).toBe(200);
    expect(snapshot.body).toMatchObject({ participant_id: pid, level: "clear", webhooks: { pending: 0, delivered: 2 * expected.length, failed: 0 } });
    expect(snapshot.body.since_ms).toBe(alerts[alerts.length - 1]!.timestamp_ms);
    expect(snapshot.body.counters).toMatchObject({ events: expected.length, results: script.length });

    const latency = acceptedFor(sinkA, pid).map((d, i) => d.atMs - sentAt[i]!);
    measure(`burst of ${script.length} results (${expected.length} transitions, 15 ms apart): send -> sink A ${stats(latency)}`);
  });
});

describe("a consumer that answers 500 for 20 s (default schedule)", () => {
  const pid = `wh-outage-${RUN}`;
  let client: ParticipantClient | null = null;
  afterAll(async () => {
    sinkA.healthy();
    await closeSession(client);
  });

  it("gets every pending event within 15 s of recovering, in order, intact, each exactly once; the other URL is not held up", async () => {
    client = await openSession(pid);
    const outageMs = 20_000;
    const outageStart = Date.now();
    sinkA.failFor(outageMs, 500);

    const script: ResultTypeName[] = ["SUSPICIOUS", "ALERT", "CLEAR"];
    for (const [i, type] of script.entries()) {
      push(pid, type, `r${i}-${type}`);
      await client.waitFor(() => clientAlerts(client!).length > i, 5_000);
      await sleep(400);
    }
    const alerts = clientAlerts(client);
    expect(alerts.map((a) => `${a.previous_level}->${a.level}`)).toEqual(["clear->suspicious", "suspicious->alert", "alert->clear"]);

    // URL B is healthy: its deliveries do not wait for A's outage.
    await sinkB.waitFor(() => acceptedFor(sinkB, pid).length >= 3, 5_000, "B's three deliveries");
    expect(acceptedFor(sinkA, pid)).toHaveLength(0);

    // During the outage: A's rows are pending; only the head has been attempted.
    await sleep(Math.max(0, outageStart + 10_000 - Date.now()));
    const during = await allWebhooks(pid, "pending");
    const pendingA = during.rows.filter((r) => r.url === sinkA.url);
    expect(pendingA.map((r) => r.event_id)).toEqual(alerts.map((a) => a.id));
    expect(pendingA[0]!.attempts).toBeGreaterThanOrEqual(3);
    expect(pendingA[0]!.last_status).toBe(500);
    expect(pendingA[0]!.last_error).toMatch(/500/);
    expect(pendingA[0]!.next_attempt_ms).toBeLessThan(Date.now() + 11_000 + 1_000);
    for (const row of pendingA.slice(1)) expect(row.attempts).toBe(0);
    expect(during.rows.filter((r) => r.url === sinkB.url)).toEqual([]);
    measure(`outage: after ${Date.now() - outageStart} ms A's head row has ${pendingA[0]!.attempts} attempt(s), last_error ${JSON.stringify(pendingA[0]!.last_error)}`);

    const recoveredAt = outageStart + outageMs;
    await sinkA.waitFor(() => acceptedFor(sinkA, pid).length >= 3, outageMs + RECOVERY_MS + 5_000, "A's three deliveries after the outage");
    await sleep(1_500);

    expectDeliveredInOrder(sinkA, pid, alerts);
    expectDeliveredInOrder(sinkB, pid, alerts);
    expect(deliveriesFor(sinkB, pid)).toHaveLength(3);

    const afterRecovery = acceptedFor(sinkA, pid).map((d) => d.atMs - recoveredAt);
    measure(`outage of ${outageMs} ms (default schedule): A accepted the 3 events [${afterRecovery.join(", ")}] ms after it recovered`);
    for (const ms of afterRecovery) {
      expect(ms).toBeGreaterThanOrEqual(-50);
      expect(ms, "every pending event within 15 s of recovery").toBeLessThanOrEqual(RECOVERY_MS);
    }
    // The backlog behind the head goes out right away once the head is accepted.
    const accepted = acceptedFor(sinkA, pid);
    expect(accepted[2]!.atMs - accepted[0]!.atMs).toBeLessThan(1_000);

    const head = sinkA.attemptsFor(alerts[0]!.id);
    expect(head.slice(0, -1).every((d) => d.status === 500)).toBe(true);
    const waits = head.slice(1).map((d, i) => d.atMs - head[i]!.atMs);
    measure(`outage: head event attempts at A: ${head.map((d) => d.status).join(", ")}; waits between attempts [${waits.join(", ")}] ms (default schedule [${DEFAULT_SCHEDULE_MS.join(", ")}, …] ± 10 %)`);
    expect(head.length).toBeGreaterThanOrEqual(6);
    waits.slice(0, DEFAULT_SCHEDULE_MS.length).forEach((waitMs, i) => {
      const base = DEFAULT_SCHEDULE_MS[i]!;
      expect(waitMs, `wait #${i + 1}`).toBeGreaterThanOrEqual(Math.floor(base * (1 - JITTER)) - 20);
      expect(waitMs, `wait #${i + 1}`).toBeLessThanOrEqual(Math.ceil(base * (1 + JITTER)) + 1_000);
    });

    const { counts, rows } = await allWebhooks(pid);
    expect(counts).toEqual({ pending: 0, delivered: 6, failed: 0 });
    for (const row of rows) {
      expect(row).toMatchObject({ status: "delivered", last_status: 204, last_error: null });
      const sink = row.url === sinkA.url ? sinkA : sinkB;
      expect(row.attempts, `${row.url} ${row.event_id}`).toBe(sink.attemptsFor(row.event_id).length);
    }
    for (const row of rows.filter((r) => r.url === sinkB.url)) expect(row.attempts).toBe(1);
  });
});

describe("latency on loopback", () => {
  const pid = `wh-latency-${RUN}`;
  const N = 120;
  let client: ParticipantClient | null = null;
  afterAll(async () => closeSession(client));

  it(`${N} transitions: each webhook arrives exactly once, in order; p50/p99 from upstream result to receipt`, async () => {
    client = await openSession(pid);
    const toA: number[] = [];
    const toB: number[] = [];
    const toClient: number[] = [];
    for (let i = 0; i < N; i++) {
      const type: ResultTypeName = i % 2 === 0 ? "SUSPICIOUS" : "CLEAR";
      const sentAt = push(pid, type, `r${i}`);
      const alert = await client.waitFor((e) => isAlert(e) && e.message === `r${i}`, 10_000, 0);
      await sinkA.waitFor(() => acceptedFor(sinkA, pid).length > i, 10_000, `delivery #${i + 1}`);
      await sinkB.waitFor(() => acceptedFor(sinkB, pid).length > i, 10_000, `delivery #${i + 1}`);
      const id = alert.event.id as string;
      toA.push(sinkA.accepted().find((d) => d.id === id)!.atMs - sentAt);
      toB.push(sinkB.accepted().find((d) => d.id === id)!.atMs - sentAt);
      toClient.push(alert.atMs - sentAt);
      await sleep(Math.max(0, sentAt + 30 - Date.now()));
    }
    await sleep(1_000);

    measure(`latency upstream result -> webhook receipt, sink A: ${stats(toA)}`);
    measure(`latency upstream result -> webhook receipt, sink B: ${stats(toB)}`);
    measure(`latency upstream result -> client deepfake_alert: ${stats(toClient)}`);

    const alerts = clientAlerts(client);
    expect(alerts).toHaveLength(N);
    const history = await allEvents(pid);
    expect(history.map((e) => e.id)).toEqual(alerts.map((a) => a.id));
    for (const sink of [sinkA, sinkB]) {
      expect(deliveriesFor(sink, pid)).toHaveLength(N);
      expectDeliveredInOrder(sink, pid, history);
    }
    const { counts } = await allWebhooks(pid);
    expect(counts).toEqual({ pending: 0, delivered: 2 * N, failed: 0 });
    // Generous bound only: this is a measurement, not a benchmark.
    expect(percentile(toA, 0.99)).toBeLessThan(2_000);
  });
});

describe("kill -9 with a webhook pending while the consumer is down (default schedule)", () => {
  const pid = `wh-crash-${RUN}`;
  let client: ParticipantClient | null = null;

  afterAll(() => {
    sinkA.healthy();
    sinkB.healthy();
  });

  it("after a restart on the same --persist-to and the consumer's return, delivers within 15 s of both being up, by the alarm alone", async () => {
    client = await openSession(pid);
    sinkA.respondWith({ status: 500 });
    sinkB.respondWith({ status: 500 });

    push(pid, "SUSPICIOUS", "crash-1");
    await client.waitFor((e) => isAlert(e) && e.message === "crash-1", 5_000);
    push(pid, "ALERT", "crash-2");
    await client.waitFor((e) => isAlert(e) && e.message === "crash-2", 5_000);
    const alerts = clientAlerts(client);
    expect(alerts.map((a) => `${a.previous_level}->${a.level}`)).toEqual(["clear->suspicious", "suspicious->alert"]);
    const [first, second] = alerts as [Alert, Alert];

    await sinkA.waitFor(() => sinkA.attemptsFor(first.id).length >= 1, 5_000, "A's first attempt");
    await sinkB.waitFor(() => sinkB.attemptsFor(first.id).length >= 1, 5_000, "B's first attempt");

    const before = await allWebhooks(pid);
    expect(before.counts).toEqual({ pending: 4, delivered: 0, failed: 0 });
    for (const url of [sinkA.url, sinkB.url]) {
      const [head, next] = before.rows.filter((r) => r.url === url);
      expect(head).toMatchObject({ event_id: first.id, status: "pending", last_status: 500 });
      expect(head!.attempts).toBeGreaterThanOrEqual(1);
      expect(next).toMatchObject({ event_id: second.id, status: "pending", attempts: 0 });
    }
    const snapshotBefore = await api("GET", `/v1/participants/${pid}`);
    expect(snapshotBefore.body).toMatchObject({ level: "alert", webhooks: { pending: 4 } });

    const killedAt = Date.now();
    earlierLogs += `${dev.logs()}\n----- [test] kill -9 at ${new Date(killedAt).toISOString()} -----\n`;
    dev.kill9();
    await dev.stop(); // reaps the killed group; the persist dir is ours and stays
    await fake.waitFor(() => fake.sockets.size === 0, 5_000, "the killed server's upstream socket to drop");
    await waitUntil(() => client!.closed !== null, 5_000);
    expect(client.closed).not.toBeNull();
    const upgradesBefore = fake.upgrades.length;

    // Restart while the consumer is still down.
    const restartAt = Date.now();
    dev = await startWranglerDev({ vars, persistTo: persistDir });
    const healthyAt = Date.now();
    measure(`crash: killed ${killedAt - first.timestamp_ms} ms after the first event; restart took ${healthyAt - restartAt} ms to /healthz`);

    // Nothing but the alarm may wake the object now: no client, no REST call. It keeps retrying
    // while the consumer is down...
    await sinkA.waitFor(() => sinkA.attemptsFor(first.id).some((d) => d.atMs >= healthyAt), RECOVERY_MS, "a retry by the restarted service");
    await sleep(Math.max(0, healthyAt + 3_000 - Date.now()));
    // ... and the consumer comes back.
    const backAt = Date.now();
    sinkA.healthy();
    sinkB.healthy();
    for (const sink of [sinkA, sinkB]) {
      await sink.waitFor(
        () => acceptedFor(sink, pid).length >= 2,
        RECOVERY_MS + 5_000,
        `both events after the restart (wrangler logs:\n${dev.logs().slice(-3_000)})`,
      );
    }
    const deliveredAt = Math.max(...[sinkA, sinkB].flatMap((s) => acceptedFor(s, pid).map((d) => d.atMs)));
    const bothUpAt = Math.max(healthyAt, backAt);
    measure(
      `crash: both pending events delivered to both URLs ${deliveredAt - bothUpAt} ms after the service and the consumer were both up ` +
        `(event age then ${bothUpAt - first.timestamp_ms} ms)`,
    );
    expect(deliveredAt - bothUpAt, "delivered within 15 s of both being up").toBeLessThanOrEqual(RECOVERY_MS);
    await sleep(1_000);
    expect(fake.upgrades.length).toBe(upgradesBefore); // no client came back, so no upstream either

    for (const sink of [sinkA, sinkB]) expectDeliveredInOrder(sink, pid, alerts);

    const snapshot = await api("GET", `/v1/participants/${pid}`);
    expect(snapshot.status).toBe(200);
    expect(snapshot.body).toMatchObject({ participant_id: pid, level: "alert", since_ms: second.timestamp_ms, clients: 0 });
    expect(snapshot.body.webhooks).toEqual({ pending: 0, delivered: 4, failed: 0 });
    // Idle with an empty outbox: the retention purge is scheduled (default 24 h).
    expect(snapshot.body.retention_purge_at_ms).toBeGreaterThan(Date.now() + 23 * 3_600_000);

    const after = await allWebhooks(pid);
    for (const [url, sink] of [[sinkA.url, sinkA], [sinkB.url, sinkB]] as const) {
      const [head, next] = after.rows.filter((r) => r.url === url);
      expect(head).toMatchObject({ event_id: first.id, status: "delivered", last_status: 204, attempts: sink.attemptsFor(first.id).length });
      expect(head!.attempts).toBeGreaterThanOrEqual(2);
      expect(next).toMatchObject({ event_id: second.id, status: "delivered", attempts: 1, last_status: 204 });
    }
    expect(await allEvents(pid)).toEqual(alerts);
  });
});

describe("secret rotation (WEBHOOK_SECRET_PREVIOUS)", () => {
  it("signs every request with both keys: the official library accepts it under either, and refuses another key", () => {
    const all = [...sinkA.deliveries, ...sinkB.deliveries];
    expect(all.length).toBeGreaterThan(100);
    for (const d of all) {
      expect(d.signature.split(" "), d.signature).toHaveLength(2);
      expect(d.verified, d.verifyError).toBe(true);
      // Checked on receipt: sink A holds the current key, sink B the previous one; each also checked the other.
      expect(d.alsoVerified, `${d.id}: [other key of the rotation, unrelated key]`).toEqual([true, false]);
    }
    measure(`rotation: ${all.length} requests, each verified by standardwebhooks under the current and the previous secret`);
  });
});

describe("POST /v1/participants/:id/webhooks/:seq/redeliver", () => {
  const pid = `wh-redeliver-${RUN}`;
  let client: ParticipantClient | null = null;
  afterAll(async () => {
    sinkA.healthy();
    await closeSession(client);
  });

  it("sends a delivered event again with the same webhook-id and body, queued behind what is pending for that URL", async () => {
    client = await openSession(pid);
    push(pid, "SUSPICIOUS", "redeliver-1");
    const first = (await client.waitFor((e) => isAlert(e) && e.message === "redeliver-1", 5_000)).event as unknown as Alert;
    await sinkA.waitForAccepted(first.id, 5_000);
    const firstRow = (await allWebhooks(pid)).rows.find((r) => r.url === sinkA.url && r.event_id === first.id)!;
    expect(firstRow.status).toBe("delivered");

    // A second event is pending at A (A refuses for now) when the first is redelivered.
    sinkA.respondWith({ status: 503 });
    push(pid, "ALERT", "redeliver-2");
    const second = (await client.waitFor((e) => isAlert(e) && e.message === "redeliver-2", 5_000)).event as unknown as Alert;
    await sinkA.waitFor(() => sinkA.attemptsFor(second.id).length >= 1, 5_000, "A's first attempt of the second event");

    expect((await api("POST", `/v1/participants/${pid}/webhooks/${firstRow.seq}/redeliver`, null)).status).toBe(401);
    expect((await api("POST", `/v1/participants/${pid}/webhooks/99999999/redeliver`)).status).toBe(404);
    expect((await api("POST", `/v1/participants/${pid}/webhooks/abc/redeliver`)).status).toBe(400);
    const requestedAt = Date.now();
    const res = await api("POST", `/v1/participants/${pid}/webhooks/${firstRow.seq}/redeliver`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ event_id: first.id, url: sinkA.url, status: "pending", redelivery_of: firstRow.seq });
    expect(res.body.seq).toBeGreaterThan(firstRow.seq);
    // Asking again while it is still queued is refused.
    expect((await api("POST", `/v1/participants/${pid}/webhooks/${firstRow.seq}/redeliver`)).status).toBe(409);

    sinkA.healthy();
    await sinkA.waitFor(() => acceptedFor(sinkA, pid).length >= 3, RECOVERY_MS, "the second event and the redelivery");
    const accepted = acceptedFor(sinkA, pid);
    expect(accepted.map((d) => d.id)).toEqual([first.id, second.id, first.id]);
    expect(accepted[2]!.body).toBe(accepted[0]!.body);
    expect(bodyOf(accepted[2]!)).toEqual(first);
    expect(accepted[2]!.verified).toBe(true);
    measure(`redelivery: arrived ${accepted[2]!.atMs - requestedAt} ms after the request, behind the pending event, with webhook-id ${first.id}`);

    // The sink has answered; the object records the answer when the response reaches it, moments later.
    let rows: OutboxRow[] = [];
    for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      rows = (await allWebhooks(pid)).rows;
      if (rows.find((r) => r.seq === res.body.seq)?.status !== "pending") break;
    }
    const redelivered = rows.find((r) => r.seq === res.body.seq)!;
    expect(redelivered).toMatchObject({ event_id: first.id, status: "delivered", attempts: 1, last_status: 204 });
    expect(rows.find((r) => r.seq === firstRow.seq)).toMatchObject({ status: "delivered", attempts: 1 });
  });
});

describe("DELETE /v1/participants/:id", () => {
  it("closes the sockets and purges state, history and outbox: every read is 404 afterwards", async () => {
    const pid = `wh-latency-${RUN}`;
    const crashPid = `wh-crash-${RUN}`;
    const client = await openSession(pid);
    const ready = client.events.find((e) => e.event.type === "ready")!.event;
    expect(ready.level).toBe("clear"); // persisted through the restart

    expect((await api("GET", `/v1/participants/${pid}/events?limit=1`)).status).toBe(200);
    expect((await api("DELETE", `/v1/participants/${pid}`, null)).status).toBe(401);

    const deleteAt = Date.now();
    const deleted = await api("DELETE", `/v1/participants/${pid}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deleted: true, participant_id: pid });
    // The client did not start a close, so CLOSING means the server's close frame arrived.
    const closeFrameAt = await waitUntil(() => client.socket.readyState !== WebSocket.OPEN, 5_000);
    expect(closeFrameAt, "the server's close frame within 5 s of DELETE").not.toBeNull();
    await fake.waitFor(() => fake.sockets.size === 0, 5_000, "the upstream to close on DELETE");
    // The TCP connection itself may linger after the close handshake (seen: ~10 s under wrangler dev).
    await waitUntil(() => client.closed !== null, 15_000);
    measure(
      `DELETE: close frame ${closeFrameAt! - deleteAt} ms after the request; ` +
        `socket fully closed ${client.closed === null ? "not within 15 s" : `${client.closed.atMs - deleteAt} ms after it`}`,
    );
    expect(client.closed).toMatchObject({ code: 1000, reason: expect.stringMatching(/deleted/) });

    const deletedCrash = await api("DELETE", `/v1/participants/${crashPid}`);
    expect(deletedCrash.status).toBe(200);
    expect(deletedCrash.body).toMatchObject({ deleted: true });

    const statuses: Record<string, number> = {};
    for (const id of [pid, crashPid, `wh-never-seen-${RUN}`]) {
      for (const suffix of ["", "/events", "/webhooks"]) {
        const res = await api("GET", `/v1/participants/${id}${suffix}`);
        statuses[`${id.replace(`-${RUN}`, "")}${suffix}`] = res.status;
        expect(res.status, `GET ${id}${suffix}: ${JSON.stringify(res.body)}`).toBe(404);
        expect(res.body).toMatchObject({ error: expect.any(String) });
      }
    }
    measure(`after DELETE: ${JSON.stringify(statuses)}`);
  });
});

describe("privacy", () => {
  it("never writes the signing secret or a webhook signature to wrangler's logs", () => {
    const logs = allLogs();
    expect(logs).not.toContain(SECRET.slice("whsec_".length));
    const signatures = [...sinkA.deliveries, ...sinkB.deliveries].map((d) => d.signature);
    expect(signatures.length).toBeGreaterThan(0);
    for (const signature of signatures.flatMap((header) => header.split(" "))) {
      expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(logs).not.toContain(signature.slice(3));
    }
    expect(logs).not.toContain(PREVIOUS_SECRET.slice("whsec_".length));
  });
});
