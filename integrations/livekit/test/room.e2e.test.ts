/**
 * End-to-end (docs/DESIGN.md §14): monitorRoom against a real livekit-server, a real `wrangler dev` with
 * the fake Dataspike API, a webhook sink, and @livekit/rtc-node people in LiveKit room "R":
 * alice (camera + microphone), bob (camera + screen share), carol (microphone only) and a watcher
 * that only listens for data messages. What the tests assert is what a user would see: JPEGs and PCM
 * chunks arriving at the API per LiveKit track, data messages in the LiveKit room, webhooks, and the
 * service's room "R" as a moderator sees it (GET /v1/rooms, the watch socket). A restart of the LiveKit
 * server shows that the bridge rejoins on its own after an ordinary disconnect; an operator's removal,
 * that it does not.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { RoomServiceClient } from "livekit-server-sdk";
import { WebSocket } from "ws";
import { ParticipantClient } from "../../../test/e2e/harness/client.js";
import type { ReceivedFrame } from "../../../test/e2e/harness/fake-upstream.js";
import { FakeUpstream, FrameFormat, productionVars } from "../../../test/e2e/harness/fake-upstream.js";
import { WebhookSink } from "../../../test/e2e/harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "../../../test/e2e/harness/wrangler-dev.js";
import { monitorRoom, type MonitorEvent, type RoomMonitor } from "../src/index.js";
import { startLiveKitServer, type LiveKitServerProcess } from "./harness/livekit-server.js";
import { startPublisher, type Publisher } from "./harness/publisher.js";

const API_KEY = "livekit-e2e-key";
const ADMIN_KEY = "livekit-e2e-admin";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROOM = "R";

let fake: FakeUpstream;
let sink: WebhookSink;
let dev: WranglerDev;
let livekit: LiveKitServerProcess;
let monitor: RoomMonitor | undefined;
let moderator: ParticipantClient | undefined;
const people: Record<string, Publisher> = {};
const events: MonitorEvent[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY, decodeJpegs: true });
  sink = await WebhookSink.start({ secret: SECRET, path: "/hooks" });
  // One after the other: whichever started is stopped by afterAll even when the other fails.
  livekit = await startLiveKitServer();
  dev = await startWranglerDev({
    vars: productionVars(
      fake,
      { apiKey: API_KEY, adminKey: ADMIN_KEY },
      { WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: SECRET },
    ),
  });
  people.alice = await startPublisher(livekit, ROOM, { identity: "alice", camera: true, microphone: true });
  people.bob = await startPublisher(livekit, ROOM, { identity: "bob", camera: true, screen: true });
  people.carol = await startPublisher(livekit, ROOM, { identity: "carol", microphone: true });
  people.watcher = await startPublisher(livekit, ROOM, { identity: "watcher" });
  // A moderator watching the service's room R (docs/DESIGN.md §12) with the admin key.
  const socket = new WebSocket(`${dev.url.replace(/^http/, "ws")}/v1/rooms/${ROOM}/watch`, [], {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  moderator = new ParticipantClient(socket);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
});

interface RoomView {
  participants: Array<{ participant_id: string; connected: boolean }>;
}

async function admin(path: string): Promise<unknown> {
  const res = await fetch(`${dev.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status).toBe(200);
  return res.json();
}

afterAll(async () => {
  await moderator?.close();
  await monitor?.stop();
  for (const person of Object.values(people)) await person.leave();
  await livekit?.stop();
  await dev?.stop();
  await fake?.close();
  await sink?.close();
});

const framesOf = (participantId: string, trackId?: string): ReceivedFrame[] =>
  fake.frames.filter((f) => f.participantId === participantId && (trackId === undefined || f.trackId === trackId));

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

it("streams the cameras at 0.2 fps and the microphones as 96 000-byte chunks, never the screen share", async () => {
  monitor = monitorRoom(ROOM, {
    livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
    edge: { url: dev.url, adminKey: ADMIN_KEY },
    onEvent: (event) => events.push(event),
  });
  await monitor.connected;
  const alice = people.alice!.sids;
  const bob = people.bob!.sids;
  const carol = people.carol!.sids;
  const bothCameras = () => framesOf("R:alice", alice.camera).length > 0 && framesOf("R:bob", bob.camera).length > 0;
  await fake.waitFor(bothCameras, 30_000, "first camera JPEGs");
  const start = Date.now();
  await sleep(15_500);
  await fake.settle();
  const aliceCamera = framesOf("R:alice", alice.camera).filter((f) => f.atMs >= start - 100);
  const bobCamera = framesOf("R:bob", bob.camera).filter((f) => f.atMs >= start - 100);
  measure(`CLEAR: alice ${aliceCamera.length}, bob ${bobCamera.length} camera JPEGs in 15.5 s`);
  // Deadlines every 5 s (25 % early tolerance): 3 or 4 in 15.5 s after the first one.
  for (const frames of [aliceCamera, bobCamera]) {
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.length).toBeLessThanOrEqual(4);
    for (const f of frames) expect(f).toMatchObject({ format: FrameFormat.JPEG, width: 320, height: 240 });
  }
  // Nothing from the screen share, and nothing from the watcher (no tracks) or from carol's camera (none).
  expect(fake.frames.filter((f) => f.trackId === bob.screen)).toEqual([]);
  expect(new Set(fake.frames.map((f) => f.participantId))).toEqual(new Set(["R:alice", "R:bob", "R:carol"]));
  // The tone is speech for the voice gate: a 3 s chunk of 16 kHz s16 mono per microphone (AUDIO_INTERVAL_S is 60).
  const bothMicrophones = () =>
    framesOf("R:carol", carol.microphone).length > 0 && framesOf("R:alice", alice.microphone).length > 0;
  await fake.waitFor(bothMicrophones, 10_000, "PCM chunks");
  for (const [id, sid] of [["R:alice", alice.microphone], ["R:carol", carol.microphone]] as const) {
    const pcm = framesOf(id, sid).filter((f) => f.format === FrameFormat.PCM);
    expect(pcm.length).toBeGreaterThanOrEqual(1);
    for (const f of pcm) expect(f.bytes).toBe(96_000);
  }
  expect(framesOf("R:bob").every((f) => f.trackId === bob.camera)).toBe(true);
  const joined = events.flatMap((e) => (e.type === "participant_joined" ? [e.participantId] : []));
  expect(joined.sort()).toEqual(["R:alice", "R:bob", "R:carol"]);

  // The service's room R lists all three, connected; its moderator saw each join.
  const listing = (await admin("/v1/rooms")) as { rooms: Array<Record<string, unknown>> };
  expect(listing.rooms.find((r) => r.room_id === ROOM)).toMatchObject({ connected: 3, participants: 3 });
  const room = (await admin(`/v1/rooms/${ROOM}`)) as RoomView;
  expect(room.participants.map((p) => [p.participant_id, p.connected]).sort()).toEqual([
    ["R:alice", true],
    ["R:bob", true],
    ["R:carol", true],
  ]);
  const seen = moderator!.events.flatMap(({ event: e }) => (e.type === "participant_joined" ? [e.participant_id] : []));
  expect(seen.sort()).toEqual(["R:alice", "R:bob", "R:carol"]);
});

interface DataMessage {
  topic: string | undefined;
  atMs: number;
  alert: Record<string, unknown>;
}

/** The watcher's data messages on any topic, parsed. */
function watcherMessages(): DataMessage[] {
  return people.watcher!.data.map((d) => ({ ...d, alert: JSON.parse(d.text) as Record<string, unknown> }));
}

async function waitForMessage(match: (m: DataMessage) => boolean, timeoutMs: number, what: string) {
  let found: DataMessage | undefined;
  await fake.waitFor(() => (found = watcherMessages().find(match)) !== undefined, timeoutMs, what);
  return found!;
}

it("bob SUSPICIOUS raises only bob's rate (1 fps), alice stays at 0.2 fps", async () => {
  const bobCamera = people.bob!.sids.camera!;
  const aliceCamera = people.alice!.sids.camera!;
  expect(fake.sendResultTo("SUSPICIOUS", "R:bob", bobCamera, "looks odd")).toBe(true);
  const message = await waitForMessage((m) => m.alert.level === "suspicious", 10_000, "bob's SUSPICIOUS data message");
  expect(message.alert).toMatchObject({ participant_id: "bob", track_id: bobCamera });
  const since = Date.now();
  await sleep(10_000);
  const bob = framesOf("R:bob", bobCamera).filter((f) => f.atMs >= since).length;
  const alice = framesOf("R:alice", aliceCamera).filter((f) => f.atMs >= since).length;
  measure(`bob SUSPICIOUS: bob ${bob}, alice ${alice} camera JPEGs in the next 10 s`);
  expect(bob).toBeGreaterThanOrEqual(8);
  expect(bob).toBeLessThanOrEqual(12);
  expect(alice).toBeGreaterThanOrEqual(1);
  expect(alice).toBeLessThanOrEqual(3);
  expect(framesOf("R:bob").every((f) => f.trackId === bobCamera)).toBe(true);
});

it("bob ALERT reaches a LiveKit watcher (deepfake_alert data naming bob and his camera) and the webhook", async () => {
  const bobCamera = people.bob!.sids.camera!;
  const sentAt = Date.now();
  expect(fake.sendResultTo("ALERT", "R:bob", bobCamera, "face swap detected")).toBe(true);
  const message = await waitForMessage((m) => m.alert.level === "alert", 10_000, "bob's ALERT data message");
  measure(`scripted ALERT -> data message in the LiveKit room: ${message.atMs - sentAt} ms`);
  expect(message.topic).toBe("deepfake_alert");
  expect(message.alert).toEqual({
    type: "deepfake_alert",
    level: "alert",
    participant_id: "bob",
    track_id: bobCamera,
    message: "face swap detected",
    timestamp_ms: expect.any(Number),
    reason: "result",
    simulated: false,
    room_id: ROOM,
  });
  const bobAlert = () =>
    sink.accepted().find((d) => d.body.includes('"participant_id":"R:bob"') && d.body.includes('"level":"alert"'));
  await sink.waitFor(() => bobAlert() !== undefined, 15_000, "bob's ALERT webhook");
  const hook = JSON.parse(bobAlert()!.body) as unknown;
  expect(hook).toMatchObject({ type: "deepfake_alert", level: "alert", participant_id: "R:bob", track_id: bobCamera });
});

it("every scripted result reaches the LiveKit room (latency from the result to the data message)", async () => {
  const aliceCamera = people.alice!.sids.camera!;
  const latencies: number[] = [];
  const rounds = 40;
  for (let i = 0; i < rounds; i++) {
    const level = i % 2 === 0 ? "alert" : "clear";
    const before = watcherMessages().length;
    const sentAt = Date.now();
    fake.sendResultTo(level === "alert" ? "ALERT" : "CLEAR", "R:alice", aliceCamera, `round ${i}`);
    const message = await waitForMessage(
      (m) => m.alert.participant_id === "alice" && m.alert.message === `round ${i}`,
      10_000,
      `round ${i}`,
    );
    expect(message.alert.level).toBe(level);
    expect(watcherMessages().length).toBe(before + 1);
    latencies.push(message.atMs - sentAt);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  measure(
    `scripted result -> LiveKit data message over ${rounds} transitions: ` +
      `p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms`,
  );
});

it("carol leaving LiveKit shows as participant_left in the service's room", async () => {
  await people.carol!.leave();
  const left = await moderator!.waitFor((e) => e.type === "participant_left", 15_000);
  expect(left.event).toMatchObject({ type: "participant_left", room_id: ROOM, participant_id: "R:carol" });
  expect(events.some((e) => e.type === "participant_left" && e.identity === "carol")).toBe(true);
  const room = (await admin(`/v1/rooms/${ROOM}`)) as RoomView;
  expect(room.participants.find((p) => p.participant_id === "R:carol")).toMatchObject({ connected: false });
  expect(monitor!.participants().map((p) => p.identity).sort()).toEqual(["alice", "bob"]);
});

it("rejoins LiveKit on its own after the LiveKit server restarted, and streams alice and bob again", async () => {
  const mark = events.length;
  const since = () => events.slice(mark);
  const restartedAt = Date.now();
  // The server shuts down (every participant is told SERVER_SHUTDOWN, unless the process exits before
  // that message is out: then the LiveKit SDK reconnects on its own) and a new one answers at the same address.
  await livekit.restart();
  // The people come back to the new server as they would (their tracks get new sids); the bridge on its own.
  for (const name of ["alice", "bob", "watcher"]) await people[name]!.rejoin();
  const camera = { alice: people.alice!.sids.camera!, bob: people.bob!.sids.camera! };
  const streamedAgain = () => framesOf("R:alice", camera.alice).length > 0 && framesOf("R:bob", camera.bob).length > 0;
  await fake.waitFor(streamedAgain, 30_000, "alice's and bob's camera JPEGs from the new server");
  const back = Math.min(framesOf("R:alice", camera.alice)[0]!.atMs, framesOf("R:bob", camera.bob)[0]!.atMs);
  const log = JSON.stringify(since());
  const left = since().find((e) => e.type === "disconnected");
  const how = left ? `the bridge rejoined after ${left.reason}` : "the LiveKit SDK resumed the bridge's connection";
  measure(`LiveKit restart: alice and bob streamed again ${back - restartedAt} ms after the restart began (${how})`);

  // It never gave up; when the server told it to leave, it waited (a retry delay) and joined again.
  const lifecycle = since().filter((e) => e.type === "disconnected" || e.type === "connected");
  if (left) {
    expect(left, log).toMatchObject({ reason: "SERVER_SHUTDOWN", retryInMs: expect.any(Number) });
    expect(lifecycle.at(-1)?.type, log).toBe("connected");
  }
  expect(lifecycle.filter((e) => e.type === "disconnected" && e.retryInMs === null), log).toEqual([]);
  expect(since().filter((e) => e.type === "problem" && /not rejoining/.test(e.message)), log).toEqual([]);
  expect(monitor!.isConnected).toBe(true);
  // alice and bob left the service with the old server and are back, each once: no duplicate participants.
  const ids = (type: MonitorEvent["type"]) =>
    since().flatMap((e) => (e.type === type && "participantId" in e ? [e.participantId] : []));
  expect(new Set(ids("participant_left")), log).toEqual(new Set(["R:alice", "R:bob"]));
  expect(new Set(ids("participant_joined")), log).toEqual(new Set(["R:alice", "R:bob"]));
  const monitored = monitor!.participants();
  expect(monitored.map((p) => p.identity).sort()).toEqual(["alice", "bob"]);
  expect(monitored.find((p) => p.identity === "alice")!.trackSids).toContain(camera.alice);
  expect(monitored.find((p) => p.identity === "bob")!.trackSids).toEqual([camera.bob]);
  const room = (await admin(`/v1/rooms/${ROOM}`)) as RoomView;
  const connected = room.participants.filter((p) => p.connected).map((p) => p.participant_id);
  expect(connected.sort()).toEqual(["R:alice", "R:bob"]);
  // The new server has the bridge once, next to the three people.
  const service = new RoomServiceClient(livekit.url.replace(/^ws/, "http"), livekit.apiKey, livekit.apiSecret);
  const inLiveKit = (await service.listParticipants(ROOM)).map((p) => p.identity).sort();
  expect(inLiveKit).toEqual(["alice", "bob", monitor!.identity, "watcher"].sort());
});

it("an operator removing the bridge stops it for the room: its participants leave the service, no rejoin", async () => {
  const service = new RoomServiceClient(livekit.url.replace(/^ws/, "http"), livekit.apiKey, livekit.apiSecret);
  const mark = events.length;
  await service.removeParticipant(ROOM, monitor!.identity);
  const since = () => events.slice(mark);
  const left = () => since().flatMap((e) => (e.type === "participant_left" ? [e.participantId] : []));
  await fake.waitFor(() => left().length >= 2, 15_000, "alice and bob left the service");
  expect(left().sort()).toEqual(["R:alice", "R:bob"]);
  const disconnected = since().find((e) => e.type === "disconnected");
  expect(disconnected).toMatchObject({ reason: "PARTICIPANT_REMOVED", retryInMs: null });
  expect(since().find((e) => e.type === "problem")).toMatchObject({ message: expect.stringMatching(/not rejoining/) });
  await sleep(2_000); // past the first rejoin delay (1 s, +50 % jitter at most)
  expect(since().some((e) => e.type === "connected")).toBe(false);
  expect(monitor!.isConnected).toBe(false);
  const room = (await admin(`/v1/rooms/${ROOM}`)) as RoomView;
  expect(room.participants.filter((p) => p.connected)).toEqual([]);
});
