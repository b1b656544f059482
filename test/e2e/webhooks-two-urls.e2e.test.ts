/**
 * End-to-end: two webhook URLs are independent (docs/DESIGN.md §7, "events of other URLs are never held
 * up"), against a real `wrangler dev` in its default configuration (default retry schedule, 10 s
 * request timeout), a fake Dataspike API and two consumers that verify every request with the
 * official `standardwebhooks` package.
 *
 * One consumer hangs every request (each attempt ends at the 10 s timeout); the other answers 500
 * for 20 s and then recovers. The second must get all its events within 15 s of recovering, in
 * order, and no gap between its attempts may exceed the schedule, although the first consumer
 * holds a request open for 10 s at a time the whole while.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectParticipant, mintConnectToken, type ParticipantClient } from "./harness/client.js";
import { FakeUpstream, productionVars, type ResultTypeName } from "./harness/fake-upstream.js";
import { WebhookSink, type SinkDelivery } from "./harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";
import type { DeepfakeAlert } from "../../src/protocol/events.js";

const API_KEY = "two-urls-key";
const ADMIN_KEY = "two-urls-admin-0123456789";
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** The first delays of the default schedule (src/config/limits.ts), each ± 10 % jitter. */
const DEFAULT_SCHEDULE_MS = [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000];
const JITTER = 0.1;
/** Slack for the alarm and the loopback round trip on a loaded 2-core machine. */
const SLACK_MS = 1_000;
const OUTAGE_MS = 20_000;
/** The promise of the default schedule after an outage of up to 2 minutes. */
const RECOVERY_MS = 15_000;
const DEFAULT_TIMEOUT_MS = 10_000;
const TRACK = "cam-1";
const PID = `wh-two-urls-${Date.now().toString(36)}`;

let fake: FakeUpstream;
let hanging: WebhookSink;
let flaky: WebhookSink;
let dev: WranglerDev;
let client: ParticipantClient | null = null;

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  hanging = await WebhookSink.start({ secret: SECRET, path: "/hooks/hang" });
  flaky = await WebhookSink.start({ secret: SECRET, path: "/hooks/flaky" });
  hanging.hang();
  // No WEBHOOK_RETRY_SCHEDULE, WEBHOOK_RETRY_WINDOW or WEBHOOK_TIMEOUT_MS: the defaults.
  const vars = productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, {
    WEBHOOK_URLS: `${hanging.url},${flaky.url}`,
    WEBHOOK_SECRET: SECRET,
  });
  dev = await startWranglerDev({ vars });
});

afterAll(async () => {
  await client?.close();
  await dev?.stop();
  await fake?.close();
  await hanging?.close();
  await flaky?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function outbox(): Promise<Array<{ event_id: string; url: string; status: string; attempts: number; last_error: string | null }>> {
  const res = await fetch(`${dev.url}/v1/participants/${PID}/webhooks?limit=50`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { webhooks: Array<{ event_id: string; url: string; status: string; attempts: number; last_error: string | null }> }).webhooks;
}

function ofParticipant(sink: WebhookSink): SinkDelivery[] {
  return sink.deliveries.filter((d) => {
    try {
      return (JSON.parse(d.body) as DeepfakeAlert).participant_id === PID;
    } catch {
      return false;
    }
  });
}

describe("two URLs: one hangs every request, the other answers 500 for 20 s and recovers (default configuration)", () => {
  it("the recovering URL gets every event within 15 s of recovering, in order, its retries on schedule", async () => {
    const { token } = await mintConnectToken(dev.url, ADMIN_KEY, PID, 600);
    client = await connectParticipant(dev.url, PID, token);
    await client.waitFor((e) => e.type === "ready", 10_000);
    await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);

    const outageStart = Date.now();
    flaky.failFor(OUTAGE_MS, 500);
    const recoveredAt = outageStart + OUTAGE_MS;
    const script: ResultTypeName[] = ["SUSPICIOUS", "ALERT", "CLEAR"];
    for (const [i, type] of script.entries()) {
      expect(fake.sendResult(type, PID, TRACK, `r${i}-${type}`)).toBe(1);
      await client.waitFor((e) => e.type === "deepfake_alert" && e.message === `r${i}-${type}`, 5_000);
      await sleep(300);
    }
    const alerts = client.ofType("deepfake_alert").map((e) => e.event as unknown as DeepfakeAlert);
    expect(alerts.map((a) => `${a.previous_level}->${a.level}`)).toEqual(["clear->suspicious", "suspicious->alert", "alert->clear"]);
    const ids = alerts.map((a) => a.id);

    const accepted = () => ofParticipant(flaky).filter((d) => d.status >= 200 && d.status <= 299);
    await flaky.waitFor(() => accepted().length >= 3, OUTAGE_MS + RECOVERY_MS + 5_000, "the three events after the outage");
    await sleep(1_000);

    // In order, each exactly once, every request verified; nothing tried before its predecessor was accepted.
    const requests = ofParticipant(flaky);
    for (const d of requests) expect(d.verified, d.verifyError).toBe(true);
    expect(accepted().map((d) => d.id)).toEqual(ids);
    for (const [i, id] of ids.entries()) {
      const forId = requests.filter((d) => d.id === id);
      expect(forId.filter((d) => d.status === 204)).toHaveLength(1);
      expect(forId.at(-1)!.status).toBe(204);
      if (i > 0) expect(forId[0]!.atMs).toBeGreaterThanOrEqual(accepted()[i - 1]!.atMs);
    }

    const afterRecovery = accepted().map((d) => d.atMs - recoveredAt);
    const head = requests.filter((d) => d.id === ids[0]);
    const gaps = head.slice(1).map((d, i) => d.atMs - head[i]!.atMs);
    const hung = ofParticipant(hanging);
    console.log(
      `[measure] two URLs: recovering URL accepted the 3 events [${afterRecovery.join(", ")}] ms after it recovered; ` +
        `head attempts ${head.map((d) => d.status).join(", ")}, gaps [${gaps.join(", ")}] ms; ` +
        `the hanging URL got ${hung.length} request(s) at [${hung.map((d) => d.atMs - outageStart).join(", ")}] ms`,
    );
    for (const ms of afterRecovery) expect(ms, "every event within 15 s of recovering").toBeLessThanOrEqual(RECOVERY_MS);
    // The first attempt went out at once, and no gap between attempts exceeds the schedule.
    expect(head[0]!.atMs - alerts[0]!.timestamp_ms).toBeLessThan(SLACK_MS);
    expect(head.length).toBeGreaterThanOrEqual(6);
    gaps.forEach((gapMs, i) => {
      const base = DEFAULT_SCHEDULE_MS[i]!;
      expect(gapMs, `gap #${i + 1} of [${gaps.join(", ")}]`).toBeGreaterThanOrEqual(Math.floor(base * (1 - JITTER)) - 20);
      expect(gapMs, `gap #${i + 1} of [${gaps.join(", ")}]`).toBeLessThanOrEqual(Math.ceil(base * (1 + JITTER)) + SLACK_MS);
    });

    // Meanwhile the hanging URL was tried, each request cut at the 10 s timeout, and tried again.
    expect(hung.length).toBeGreaterThanOrEqual(2);
    expect(hung.every((d) => d.id === ids[0] && d.verified)).toBe(true);
    expect(hung[1]!.atMs - hung[0]!.atMs).toBeGreaterThanOrEqual(DEFAULT_TIMEOUT_MS - 50);
    const rows = await outbox();
    expect(rows.filter((r) => r.url === flaky.url).map((r) => [r.event_id, r.status])).toEqual(ids.map((id) => [id, "delivered"]));
    const hangRows = rows.filter((r) => r.url === hanging.url);
    expect(hangRows.map((r) => r.status)).toEqual(["pending", "pending", "pending"]);
    expect(hangRows[0]!.last_error).toBe(`timed out after ${DEFAULT_TIMEOUT_MS} ms`);
  });
});
