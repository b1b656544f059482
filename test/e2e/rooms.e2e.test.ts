/**
 * End-to-end: rooms, the directory and the watch socket (docs/DESIGN.md §12) against a real `wrangler
 * dev` in production mode (tokens and the admin key required), the fake Dataspike API and a webhook
 * sink. Three participants in room A, one in room B, one in no room, and a moderator watching A.
 *
 * Proves: the watch stream's content and order (the snapshot first, then joins, each participant's
 * deepfake_alert exactly as its client saw it, room_level after the transition that moved it, the
 * leave); nothing of room B reaches A's watcher; room_id on every surface (ready, client events,
 * history, webhooks, the room's log; null without a room); the directory listing; a restart of the
 * dev server (SIGKILL) keeping the room, and the participants whose sockets died with it marked as
 * left; watch tokens refused for another room and a stream token refused on watch.
 * Result -> watcher latency is logged with a `[measure]` prefix.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ParticipantClient, UpgradeRefused, connectParticipant, type ServiceEvent } from "./harness/client.js";
import { FakeUpstream, productionVars, type ResultTypeName } from "./harness/fake-upstream.js";
import { WebhookSink } from "./harness/webhook-sink.js";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "rooms-key";
const ADMIN_KEY = "rooms-admin-key-0123456789";
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const RUN = Date.now().toString(36);
const A = `panel-${RUN}`;
const B = `support-${RUN}`;
const [P1, P2, P3, P4, P5] = ["ann", "ben", "cat", "dan", "eve"].map((n) => `${n}-${RUN}`) as [string, string, string, string, string];

let fake: FakeUpstream;
let sink: WebhookSink;
let dev: WranglerDev;
let persistDir: string;
let vars: Record<string, string>;
/** wrangler output of the instance killed by the restart test. */
let earlierLogs = "";

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  sink = await WebhookSink.start({ secret: SECRET });
  persistDir = mkdtempSync(join(tmpdir(), "deepfake-edge-rooms-"));
  vars = productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: SECRET });
  dev = await startWranglerDev({ vars, persistTo: persistDir });
});

afterAll(async () => {
  const logs = earlierLogs + (dev?.logs() ?? "");
  await dev?.stop();
  mkdirSync(join(REPO_ROOT, "test-artifacts"), { recursive: true });
  writeFileSync(join(REPO_ROOT, "test-artifacts", "e2e-rooms-wrangler.log"), logs);
  await fake?.close();
  await sink?.close();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${dev.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: text.startsWith("{") ? JSON.parse(text) : text };
}

async function token(body: Record<string, unknown>): Promise<string> {
  const res = await api("/v1/tokens", { method: "POST", body: JSON.stringify({ ttl_s: 600, ...body }) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.token as string;
}

async function enter(pid: string, room?: string): Promise<ParticipantClient> {
  const client = await connectParticipant(dev.url, pid, await token({ participant_id: pid, ...(room ? { room } : {}) }));
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
  return client;
}

function watchUrl(room: string): string {
  return `${dev.url.replace(/^http/, "ws")}/v1/rooms/${room}/watch`;
}

/** A watch socket; `protocols` carries a credential as `bearer.<…>`, `headers` as Authorization. */
function watch(room: string, options: { protocols?: string[]; headers?: Record<string, string> }): Promise<ParticipantClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(watchUrl(room), options.protocols ?? [], { headers: options.headers ?? {} });
    const client = new ParticipantClient(socket);
    socket.once("open", () => resolve(client));
    socket.once("unexpected-response", (_req, res) => {
      socket.terminate();
      reject(new UpgradeRefused(res.statusCode ?? 0, ""));
    });
    socket.once("error", reject);
  });
}

async function refusedStatus(room: string, protocols: string[]): Promise<number> {
  try {
    const client = await watch(room, { protocols });
    await client.close();
    return 101;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status;
    throw err;
  }
}

/** Sends a result for one participant (only its own object applies it) and waits for its client's alert. */
async function result(client: ParticipantClient, pid: string, type: ResultTypeName, track = "cam"): Promise<{ alert: ServiceEvent; sentAtMs: number }> {
  const from = client.events.length;
  const sentAtMs = Date.now();
  expect(fake.sendResult(type, pid, track, `${type} for ${pid}`)).toBeGreaterThan(0);
  const received = await client.waitFor((e) => e.type === "deepfake_alert", 10_000, from);
  return { alert: received.event, sentAtMs };
}

const clients = new Map<string, ParticipantClient>();
const alerts = new Map<string, ServiceEvent[]>();

describe("rooms end to end", () => {
  it("the watch stream: snapshot, joins, alerts as the clients saw them, room_level, leave, in order; room B stays out", async () => {
    const moderator = await watch(A, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    await moderator.waitFor((e) => e.type === "room", 5_000);
    for (const [pid, room] of [[P1, A], [P2, A], [P3, A], [P4, B], [P5, undefined]] as const) {
      clients.set(pid, await enter(pid, room));
      if (room === A) await moderator.waitFor((e) => e.type === "participant_joined" && e.participant_id === pid, 10_000);
    }

    const latencies: number[] = [];
    const step = async (pid: string, type: ResultTypeName) => {
      const { alert, sentAtMs } = await result(clients.get(pid)!, pid, type);
      alerts.set(pid, [...(alerts.get(pid) ?? []), alert]);
      if (alert.room_id === A) {
        const seen = await moderator.waitFor((e) => e.type === "deepfake_alert" && e.id === alert.id, 10_000);
        latencies.push(seen.atMs - sentAtMs);
      }
      return alert;
    };
    await step(P1, "SUSPICIOUS");
    await step(P2, "ALERT");
    await step(P4, "ALERT"); // room B
    await step(P5, "ALERT"); // no room
    await step(P1, "CLEAR");
    await clients.get(P2)!.close();
    clients.delete(P2);
    await moderator.waitFor((e) => e.type === "participant_left", 10_000);
    await moderator.waitFor((e) => e.type === "room_level" && e.level === "clear", 10_000);

    const seen = moderator.events.map((r) => r.event);
    const [p1a, p1b] = alerts.get(P1)!;
    const [p2a] = alerts.get(P2)!;
    expect(seen).toEqual([
      { type: "room", room_id: A, level: "clear", participants: [] },
      { type: "participant_joined", room_id: A, participant_id: P1 },
      { type: "participant_joined", room_id: A, participant_id: P2 },
      { type: "participant_joined", room_id: A, participant_id: P3 },
      p1a,
      { type: "room_level", room_id: A, level: "suspicious", previous_level: "clear" },
      p2a,
      { type: "room_level", room_id: A, level: "alert", previous_level: "suspicious" },
      p1b,
      { type: "participant_left", room_id: A, participant_id: P2 },
      { type: "room_level", room_id: A, level: "clear", previous_level: "alert" },
    ]);
    console.log("[measure] result -> watcher latency (ms):", latencies.join(", "));
    await moderator.close();
  });

  it("room_id on every surface: ready, client events, history, webhooks and the room's log (null without a room)", async () => {
    for (const [pid, room] of [[P1, A], [P3, A], [P4, B], [P5, null]] as const) {
      expect(clients.get(pid)!.ofType("ready")[0]?.event.room_id).toBe(room);
    }
    for (const [pid, room] of [[P1, A], [P2, A], [P4, B], [P5, null]] as const) {
      for (const alert of alerts.get(pid)!) expect(alert.room_id).toBe(room);
      const history = await api(`/v1/participants/${pid}/events`);
      expect(history.body.events.map((e: any) => [e.id, e.room_id])).toEqual(alerts.get(pid)!.map((a) => [a.id, room]));
    }
    const ids = [...alerts.values()].flat().map((a) => a.id);
    await sink.waitFor(() => ids.every((id) => sink.deliveries.some((d) => d.id === id)), 20_000);
    for (const alert of [...alerts.values()].flat()) {
      const delivery = sink.deliveries.find((d) => d.id === alert.id);
      expect(delivery?.verified).toBe(true);
      expect(JSON.parse(delivery!.body).room_id).toBe(alert.room_id);
    }
    const log = await api(`/v1/rooms/${A}/events?limit=2`);
    const rest = await api(`/v1/rooms/${A}/events?after=${log.body.next_after}`);
    expect([...log.body.events, ...rest.body.events].map((e: any) => e.id)).toEqual([alerts.get(P1)![0]!.id, alerts.get(P2)![0]!.id, alerts.get(P1)![1]!.id]);
  });

  it("the directory lists both rooms with their counts; GET /v1/rooms/:room shows each participant", async () => {
    const listed = async () => (await api("/v1/rooms")).body.rooms as any[];
    const deadline = Date.now() + 10_000;
    while ((await listed()).find((r) => r.room_id === A)?.connected !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const rooms = await listed();
    expect(rooms.find((r) => r.room_id === A)).toEqual({ room_id: A, level: "clear", connected: 2, participants: 3, alerts_last_hour: 1 });
    expect(rooms.find((r) => r.room_id === B)).toEqual({ room_id: B, level: "alert", connected: 1, participants: 1, alerts_last_hour: 1 });
    expect(rooms.findIndex((r) => r.room_id === B)).toBeLessThan(rooms.findIndex((r) => r.room_id === A));
    const room = (await api(`/v1/rooms/${A}`)).body;
    expect(room.participants.map((p: any) => [p.participant_id, p.level, p.connected])).toEqual([
      [P1, "clear", true],
      [P2, "alert", false],
      [P3, "clear", true],
    ]);
    expect(room.participants[1]).toMatchObject({ tracks: [{ track_id: "cam", level: "alert" }], last_event: { id: alerts.get(P2)![0]!.id } });
  });

  it("watch tokens open only their own room; a stream token and no credential are refused before the upgrade", async () => {
    const own = await token({ scope: "watch", room: A });
    const other = await token({ scope: "watch", room: B });
    const stream = await token({ participant_id: P1, room: A, scope: "stream" });
    expect(await refusedStatus(A, ["deepfake-edge.v1", `bearer.${other}`])).toBe(403);
    expect(await refusedStatus(A, ["deepfake-edge.v1", `bearer.${stream}`])).toBe(403);
    expect(await refusedStatus(A, ["deepfake-edge.v1"])).toBe(401);
    expect(await refusedStatus(A, ["deepfake-edge.v1", "bearer.not-a-token"])).toBe(401);
    const watcher = await watch(A, { protocols: ["deepfake-edge.v1", `bearer.${own}`] });
    expect(watcher.socket.protocol).toBe("deepfake-edge.v1");
    const first = await watcher.waitFor((e) => e.type === "room", 5_000);
    expect(first.event.participants).toHaveLength(3);
    await watcher.close();
  });

  it("a restart keeps the room; participants whose sockets died with it are marked as left", async () => {
    const before = (await api(`/v1/rooms/${A}`)).body;
    earlierLogs = dev.logs();
    dev.kill9();
    await new Promise((r) => setTimeout(r, 500));
    for (const client of clients.values()) await client.close();
    clients.clear();
    dev = await startWranglerDev({ vars, persistTo: persistDir });
    const after = (await api(`/v1/rooms/${A}`)).body;
    expect(after).toEqual(before);
    // The room asks its participants whether they are still there, and they are not.
    const moderator = await watch(A, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    await moderator.waitFor((e) => e.type === "participant_left" && e.participant_id === P3, 40_000);
    const room = (await api(`/v1/rooms/${A}`)).body;
    expect(room.participants.map((p: any) => [p.participant_id, p.connected, p.level])).toEqual([
      [P1, false, "clear"],
      [P2, false, "alert"],
      [P3, false, "clear"],
    ]);
    // The room's log survived too.
    expect((await api(`/v1/rooms/${A}/events`)).body.events).toHaveLength(3);
    // A participant coming back joins again.
    const back = await enter(P1, A);
    await moderator.waitFor((e) => e.type === "participant_joined" && e.participant_id === P1, 10_000);
    await back.close();
    await moderator.close();
  });
});
