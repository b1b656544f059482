/**
 * Identity after a restart (docs/DESIGN.md §4; issue 18), against a real `wrangler dev` in the default
 * configuration (production vars, one webhook URL, the default retry schedule) and a fake Dataspike API.
 *
 * A participant reaches ALERT while its webhook consumer is down (nothing listens on its port), so the
 * webhook stays pending. `wrangler dev` is killed with SIGKILL (its whole process group) and started
 * again on the same --persist-to. The consumer comes back on its port; the pending webhook is delivered
 * by the object's alarm alone (no client, no REST call touches the object). Only then does the client
 * reconnect, to the object its alarm woke: it is accepted and its `ready` carries the stored level,
 * and the object answers RPC for its participant. An object that did not know who it is would refuse
 * that upgrade (`participant objects are addressed by name`).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectParticipant, mintConnectToken, type ParticipantClient } from "./harness/client.js";
import { FakeUpstream, productionVars } from "./harness/fake-upstream.js";
import { WebhookSink } from "./harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "restart-api-key";
const ADMIN_KEY = "restart-admin-0123456789";
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const PID = `restart-${Date.now().toString(36)}`;
/** README's recovery promise for an outage of up to 2 minutes with the default schedule. */
const RECOVERY_MS = 15_000;

let fake: FakeUpstream;
let sink: WebhookSink;
let dev: WranglerDev;
let persistDir: string;
const clients: ParticipantClient[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const measure = (...parts: unknown[]) => console.log("[measure]", ...parts);

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  sink = await WebhookSink.start({ secret: SECRET });
  persistDir = mkdtempSync(join(tmpdir(), "deepfake-edge-restart-"));
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await dev?.stop();
  await fake?.close();
  await sink?.close().catch(() => undefined);
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

async function connectClient(): Promise<ParticipantClient> {
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, PID, 600);
  const client = await connectParticipant(dev.url, PID, token);
  clients.push(client);
  return client;
}

async function outbox(): Promise<{ pending: number; delivered: number; webhooks: Array<{ status: string; attempts: number }> }> {
  const res = await fetch(`${dev.url}/v1/participants/${PID}/webhooks`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status).toBe(200);
  return res.json() as never;
}

it("kill -9 with a webhook pending and the consumer down: after the restart the alarm delivers it; then the client reconnects to ready with the stored level", async () => {
  const vars = productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: SECRET });
  dev = await startWranglerDev({ vars, persistTo: persistDir });
  const port = sink.port;

  const client = await connectClient();
  await client.waitFor((e) => e.type === "ready", 10_000);
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
  // The consumer goes down: nothing listens on its port any more.
  await sink.close();
  expect(fake.sendResult("ALERT", PID, "cam-1", "before the crash")).toBe(1);
  const alert = (await client.waitFor((e) => e.type === "deepfake_alert", 5_000)).event as unknown as { id: string; level: string };
  expect(alert.level).toBe("alert");
  const deadline = Date.now() + 10_000;
  while ((await outbox()).webhooks[0]?.attempts !== 1 && Date.now() < deadline) await sleep(100);
  expect(await outbox()).toMatchObject({ pending: 1, delivered: 0, webhooks: [{ status: "pending", attempts: 1 }] });

  dev.kill9();
  await dev.stop(); // reaps the killed group; the persist dir is ours and stays
  for (const until = Date.now() + 5_000; client.closed === null && Date.now() < until; ) await sleep(50);
  expect(client.closed, "the client saw the crash").not.toBeNull();
  await fake.waitFor(() => fake.sockets.size === 0, 5_000, "the killed server's upstream socket to drop");
  const upgradesBefore = fake.upgrades.length;

  dev = await startWranglerDev({ vars, persistTo: persistDir });
  const healthyAt = Date.now();
  // The consumer stays down a little longer, then comes back where it was.
  await sleep(3_000);
  sink = await WebhookSink.start({ secret: SECRET, port });
  const backAt = Date.now();
  await sink.waitForAccepted(alert.id, RECOVERY_MS + 5_000);
  const deliveredAt = sink.accepted()[0]!.atMs;
  measure(`restart: webhook delivered ${deliveredAt - backAt} ms after the consumer came back (${backAt - healthyAt} ms after /healthz)`);
  expect(deliveredAt - backAt).toBeLessThanOrEqual(RECOVERY_MS);
  expect(sink.accepted().map((d) => d.verified)).toEqual([true]);
  expect(fake.upgrades.length, "nothing but the alarm woke the object").toBe(upgradesBefore);

  // Now the client comes back, to the object its alarm woke.
  const again = await connectClient();
  const ready = (await again.waitFor((e) => e.type === "ready", 10_000)).event;
  expect(ready).toMatchObject({ participant_id: PID, level: "alert" });
  const snapshot = await fetch(`${dev.url}/v1/participants/${PID}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(snapshot.status).toBe(200);
  expect(await snapshot.json()).toMatchObject({ participant_id: PID, level: "alert", webhooks: { pending: 0, delivered: 1 } });
}, 150_000);
