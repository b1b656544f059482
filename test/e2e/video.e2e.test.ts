/**
 * End-to-end: a real `wrangler dev` process, a real `ws` client streaming camera frames, and a fake
 * Dataspike API. Asserts what a user would notice: events on the client socket, FrameRequests and
 * their rate on the upstream wire, reconnect timing, HTTP statuses. Measured figures are logged
 * with a `[measure]` prefix.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectParticipant,
  mintConnectToken,
  PixelFormat,
  streamUrl,
  startVideoStream,
  upgradeStatus,
  VideoSource,
  type ParticipantClient,
  type ServiceEvent,
  type VideoStreamStats,
} from "./harness/client.js";
import { FakeUpstream, FrameFormat, productionVars, type ReceivedFrame } from "./harness/fake-upstream.js";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "test-key";
const ADMIN_KEY = "e2e-admin-0123456789";
const CAMERA_TRACK = "cam-1";
const SCREEN_TRACK = "screen-1";
const CAMERA_FPS = 15;
const SCREEN_FPS = 2;
const NORMAL_WINDOW_MS = 21_000;
const BURST_WINDOW_MS = 8_000;
/** Reconnect bases (docs/DESIGN.md §4: 1 s doubling to 10 s), jitter up to +50 %. */
const RECONNECT_BASES_MS = [1_000, 2_000, 4_000, 8_000, 10_000, 10_000];
const FAILED_ATTEMPTS = 5;
const SLACK_MS = 300;

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function intervals(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - (times[i] as number));
}

function describeFrames(frames: ReceivedFrame[]): string {
  const ts = frames.map((f) => f.atMs);
  const span = ts.length > 1 ? ((ts[ts.length - 1] as number) - (ts[0] as number)) / 1000 : 0;
  const fps = span > 0 ? (ts.length - 1) / span : Number.NaN;
  const avgBytes = frames.length > 0 ? Math.round(frames.reduce((n, f) => n + f.bytes, 0) / frames.length) : 0;
  return `${frames.length} frames, effective ${fps.toFixed(3)} fps, intervals [${intervals(ts).join(", ")}] ms, avg JPEG ${avgBytes} B`;
}

const isAlert = (e: ServiceEvent): boolean => e.type === "deepfake_alert";

let fake: FakeUpstream;
let dev: WranglerDev;

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  dev = await startWranglerDev({ vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }) });
  measure(`wrangler dev healthy at ${dev.url}; fake upstream at ${fake.url}`);
});

afterAll(async () => {
  const logs = dev?.logs() ?? "";
  await dev?.stop();
  await fake?.close();
  // Kept for diagnosis (test-artifacts/ is git-ignored); the service never logs media.
  const dir = join(REPO_ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "e2e-video-wrangler.log"), logs);
});

describe("video: camera frames from a client reach the upstream as sampled JPEGs", () => {
  const participantId = `e2e-video-${Date.now().toString(36)}`;
  let client: ParticipantClient;
  let camera: { stats: VideoStreamStats; stop(): VideoStreamStats } | null = null;
  let screen: { stats: VideoStreamStats; stop(): VideoStreamStats } | null = null;
  let streamStartMs = 0;

  const cameraFrames = (): ReceivedFrame[] => fake.frames.filter((f) => f.participantId === participantId && f.trackId === CAMERA_TRACK);
  const screenFrames = (): ReceivedFrame[] => fake.frames.filter((f) => f.trackId === SCREEN_TRACK);

  afterAll(async () => {
    camera?.stop();
    screen?.stop();
    await client?.close();
  });

  it("announces ready, connects upstream with the API key", async () => {
    const { token, expires_at } = await mintConnectToken(dev.url, ADMIN_KEY, participantId, 600);
    expect(token.split(".")).toHaveLength(3);
    expect(expires_at).toBeDefined();

    client = await connectParticipant(dev.url, participantId, token);
    const ready = await client.waitFor((e) => e.type === "ready", 10_000);
    expect(ready.event).toMatchObject({ type: "ready", participant_id: participantId, level: "clear", video_fps: 0.2, simulated: false });
    expect(ready.event.dev_mode).toBe(false);

    client.sendHello({ client: "e2e-video", vad: false, honorsRate: false });
    streamStartMs = Date.now();
    camera = startVideoStream(client, { trackId: CAMERA_TRACK, fps: CAMERA_FPS, source: VideoSource.CAMERA });
    screen = startVideoStream(client, { trackId: SCREEN_TRACK, fps: SCREEN_FPS, source: VideoSource.SCREEN });

    const connected = await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
    measure(`ready after connect; upstream connected ${connected.atMs - ready.atMs} ms after ready`);
    const accepted = fake.upgrades.filter((u) => u.outcome === "accepted");
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    for (const attempt of fake.upgrades) expect(attempt.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it("samples the camera at 0.2 fps as 640x480 JPEG FrameRequests and never sends screen share", async () => {
    await sleep(Math.max(0, streamStartMs + NORMAL_WINDOW_MS - Date.now()));
    await fake.settle();
    const frames = cameraFrames().filter((f) => f.atMs < streamStartMs + NORMAL_WINDOW_MS);
    const sent = camera?.stats;
    measure(
      `normal rate over ${NORMAL_WINDOW_MS / 1000} s: client sent ${sent?.sent} camera frames (${sent?.skipped} skipped for backpressure) at ${CAMERA_FPS} fps ` +
        `and ${screen?.stats.sent} screen frames; upstream got ${describeFrames(frames)}`,
    );
    expect(frames.length).toBeGreaterThanOrEqual(4);
    expect(frames.length).toBeLessThanOrEqual(6);
    for (const frame of frames) {
      expect(frame.format).toBe(FrameFormat.JPEG);
      expect(frame.participantId).toBe(participantId);
      expect(frame.trackId).toBe(CAMERA_TRACK);
      expect(frame.timestampMs).toBeGreaterThan(0);
      expect(Math.abs(frame.timestampMs - frame.atMs)).toBeLessThan(30_000);
      expect(frame.decodeError).toBeUndefined();
      expect({ width: frame.width, height: frame.height }).toEqual({ width: 640, height: 480 });
    }
    expect(screen?.stats.sent ?? 0).toBeGreaterThan(30);
    expect(screenFrames()).toHaveLength(0);
    expect(client.ofType("error")).toEqual([]);
    expect(client.closed).toBeNull();
  });

  it("SUSPICIOUS raises exactly one alert and bursts to 1 fps; a repeat changes nothing", async () => {
    const fromIndex = client.events.length;
    const alertsBefore = client.ofType("deepfake_alert").length;
    expect(fake.sendResult("SUSPICIOUS", participantId, CAMERA_TRACK, "face swap suspected")).toBe(1);
    const sentAt = Date.now();

    const alert = await client.waitFor(isAlert, 10_000, fromIndex);
    expect(alert.event).toMatchObject({
      type: "deepfake_alert",
      level: "suspicious",
      previous_level: "clear",
      participant_id: participantId,
      track_id: CAMERA_TRACK,
      message: "face swap suspected",
    });
    expect(String(alert.event.id)).toMatch(/^evt_/);
    expect(typeof alert.event.timestamp_ms).toBe("number");
    expect(Math.abs((alert.event.timestamp_ms as number) - sentAt)).toBeLessThan(30_000);
    const rate = await client.waitFor((e) => e.type === "rate", 10_000, fromIndex);
    expect(rate.event).toMatchObject({ type: "rate", video_fps: 1 });
    measure(`SUSPICIOUS -> deepfake_alert after ${alert.atMs - sentAt} ms, rate after ${rate.atMs - sentAt} ms`);

    // The same result again leaves the level where it was: nobody is notified.
    expect(fake.sendResult("SUSPICIOUS", participantId, CAMERA_TRACK, "still suspicious")).toBe(1);
    await sleep(2_000);
    expect(client.ofType("deepfake_alert")).toHaveLength(alertsBefore + 1);
    expect(client.events.slice(fromIndex).filter((e) => e.event.type === "rate")).toHaveLength(1);

    const windowStart = rate.atMs;
    await sleep(Math.max(0, windowStart + BURST_WINDOW_MS - Date.now()));
    await fake.settle();
    const burst = cameraFrames().filter((f) => f.atMs >= windowStart && f.atMs < windowStart + BURST_WINDOW_MS);
    measure(`burst rate over ${BURST_WINDOW_MS / 1000} s after the rate event: upstream got ${describeFrames(burst)}`);
    expect(burst.length).toBeGreaterThanOrEqual(7);
    expect(burst.length).toBeLessThanOrEqual(9);
    for (const frame of burst) expect({ format: frame.format, width: frame.width, height: frame.height }).toEqual({ format: FrameFormat.JPEG, width: 640, height: 480 });
    expect(screenFrames()).toHaveLength(0);
  });

  it("ALERT escalates (rate back to 0.2 fps), CLEAR resolves, each with exactly one event", async () => {
    let fromIndex = client.events.length;
    expect(fake.sendResult("ALERT", participantId, CAMERA_TRACK, "deepfake detected")).toBe(1);
    const alert = await client.waitFor(isAlert, 10_000, fromIndex);
    expect(alert.event).toMatchObject({
      level: "alert",
      previous_level: "suspicious",
      participant_id: participantId,
      track_id: CAMERA_TRACK,
      message: "deepfake detected",
    });
    const rate = await client.waitFor((e) => e.type === "rate", 10_000, fromIndex);
    expect(rate.event).toMatchObject({ type: "rate", video_fps: 0.2 });

    fromIndex = client.events.length;
    expect(fake.sendResult("CLEAR", participantId, CAMERA_TRACK, "all good")).toBe(1);
    const clear = await client.waitFor(isAlert, 10_000, fromIndex);
    expect(clear.event).toMatchObject({ level: "clear", previous_level: "alert", participant_id: participantId, track_id: CAMERA_TRACK, message: "all good" });
    await sleep(1_500);

    const alerts = client.ofType("deepfake_alert").map((e) => e.event);
    expect(alerts.map((e) => `${e.previous_level}->${e.level}`)).toEqual(["clear->suspicious", "suspicious->alert", "alert->clear"]);
    expect(new Set(alerts.map((e) => e.id)).size).toBe(3);
    const rates = client.ofType("rate").map((e) => e.event.video_fps);
    measure(`transitions ${alerts.map((e) => `${e.previous_level}->${e.level}`).join(", ")}; rate events ${JSON.stringify(rates)}`);
    expect(client.ofType("error")).toEqual([]);
  });

  it("reconnects after an upstream drop with 1, 2, 4, 8, 10 s backoff (+ <= 50 % jitter), then frames flow again", async () => {
    const fromIndex = client.events.length;
    const upgradesBefore = fake.upgrades.length;
    fake.setAccepting(false);
    try {
      const dropAtMs = Date.now();
      expect(fake.dropAll()).toBe(1);

      const reconnecting = await client.waitFor((e) => e.type === "upstream" && e.status === "reconnecting", 10_000, fromIndex);
      expect(typeof reconnecting.event.retry_in_ms).toBe("number");
      const firstRetryMs = reconnecting.event.retry_in_ms as number;
      expect(firstRetryMs).toBeGreaterThanOrEqual(1_000);
      expect(firstRetryMs).toBeLessThanOrEqual(1_500);

      const failed = (): number => fake.upgrades.slice(upgradesBefore).filter((u) => u.outcome === "unavailable").length;
      await fake.waitFor(() => failed() >= FAILED_ATTEMPTS, 60_000, `${FAILED_ATTEMPTS} refused reconnect attempts`);
      fake.setAccepting(true);
      const connected = await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 30_000, fromIndex);

      const attempts = fake.upgrades.slice(upgradesBefore);
      const times = [dropAtMs, ...attempts.map((a) => a.atMs)];
      const waits = intervals(times);
      const announced = client.events
        .slice(fromIndex)
        .filter((e) => e.event.type === "upstream")
        .map((e) => (e.event.status === "reconnecting" ? `reconnecting(${String(e.event.retry_in_ms)})` : String(e.event.status)));
      measure(`reconnect: attempts ${attempts.map((a) => a.outcome).join(", ")}`);
      measure(`reconnect: waits drop->1st and between attempts [${waits.join(", ")}] ms (bases [${RECONNECT_BASES_MS.join(", ")}])`);
      measure(`reconnect: client saw ${announced.join(", ")}; connected ${connected.atMs - dropAtMs} ms after the drop`);

      expect(attempts.map((a) => a.outcome)).toEqual([...Array<string>(FAILED_ATTEMPTS).fill("unavailable"), "accepted"]);
      for (const attempt of attempts) expect(attempt.authorization).toBe(`Bearer ${API_KEY}`);
      waits.forEach((waitMs, i) => {
        const base = RECONNECT_BASES_MS[i] as number;
        // Measured waits include the service noticing the drop / the 503, so they are never below base.
        expect(waitMs, `wait #${i + 1} (base ${base} ms)`).toBeGreaterThanOrEqual(base - 5);
        expect(waitMs, `wait #${i + 1} (base ${base} ms)`).toBeLessThanOrEqual(1.5 * base + SLACK_MS);
      });

      const reconnectedAt = attempts[attempts.length - 1]?.atMs ?? Date.now();
      // Frames queued during the outage may be flushed first; wait for one captured after the reconnect.
      await fake.waitFor(
        () => cameraFrames().some((f) => f.atMs >= reconnectedAt && f.timestampMs >= reconnectedAt),
        15_000,
        "a camera frame captured after the reconnect",
      );
      await fake.settle();
      const after = cameraFrames().filter((f) => f.atMs >= reconnectedAt);
      const fresh = after.filter((f) => f.timestampMs >= reconnectedAt);
      measure(
        `after reconnect: ${after.length - fresh.length} queued frame(s) flushed, first ${(after[0]?.atMs ?? 0) - reconnectedAt} ms after the accepted upgrade; ` +
          `first freshly captured frame ${(fresh[0]?.atMs ?? 0) - reconnectedAt} ms after it`,
      );
      for (const frame of after) expect({ format: frame.format, width: frame.width, height: frame.height }).toEqual({ format: FrameFormat.JPEG, width: 640, height: 480 });
      expect(client.closed).toBeNull();
      expect(screenFrames()).toHaveLength(0);
    } finally {
      // Never leave the fake refusing upgrades for the tests that follow.
      fake.setAccepting(true);
    }
  });
});

describe("privacy", () => {
  it("never writes media to wrangler's logs", () => {
    const logs = dev.logs();
    measure(`wrangler log size after the video run: ${logs.length} chars`);
    // A long base64/hex run would be an encoded frame or image.
    expect(logs).not.toMatch(/[A-Za-z0-9+/=]{400,}/);
    expect(logs).not.toMatch(/\/9j\/4/); // base64 of a JPEG's SOI marker
    // The capture holds the service's info logs too, so the check above covers every line it wrote.
    expect(logs).toContain('"msg":"client joined"');
  });
});

describe("bad input and access control", () => {
  const participantId = `e2e-bad-${Date.now().toString(36)}`;
  let client: ParticipantClient | null = null;

  afterAll(async () => {
    await client?.close();
  });

  it("rejects a text message, garbage bytes and a wrong-size frame with error events, and stays usable", async () => {
    const { token } = await mintConnectToken(dev.url, ADMIN_KEY, participantId, 600);
    const c = await connectParticipant(dev.url, participantId, token);
    client = c;
    await c.waitFor((e) => e.type === "ready", 10_000);

    const codes: string[] = [];
    const expectError = async (what: string, send: () => void): Promise<void> => {
      const fromIndex = c.events.length;
      send();
      const error = await c.waitFor((e) => e.type === "error", 5_000, fromIndex);
      expect(typeof error.event.code, what).toBe("string");
      expect(String(error.event.code).length, what).toBeGreaterThan(0);
      expect(typeof error.event.message, what).toBe("string");
      expect(c.isOpen, `${what}: socket still open`).toBe(true);
      codes.push(`${what}=${String(error.event.code)}`);
    };

    await expectError("text", () => c.sendRaw('{"type":"hello"}'));
    // 0x0f: field 1 with wire type 7, which does not exist.
    await expectError("garbage", () => c.sendRaw(new Uint8Array([0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])));
    await expectError("wrong-size RGB24", () =>
      c.sendVideo({
        trackId: "cam-bad",
        width: 640,
        height: 480,
        format: PixelFormat.RGB24,
        source: VideoSource.CAMERA,
        data: new Uint8Array(1_000),
        timestampMs: Date.now(),
      }),
    );
    measure(`bad input error codes: ${codes.join(", ")}`);
    expect(c.ofType("error")).toHaveLength(3);

    // Still usable: a valid frame afterwards goes upstream (the first frame is sampled at once).
    const before = Date.now();
    c.sendVideo({
      trackId: "cam-ok",
      width: 64,
      height: 48,
      format: PixelFormat.RGB24,
      source: VideoSource.CAMERA,
      data: new Uint8Array(64 * 48 * 3).fill(90),
      timestampMs: Date.now(),
    });
    await fake.waitFor(() => fake.frames.some((f) => f.participantId === participantId && f.trackId === "cam-ok" && f.atMs >= before), 15_000, "the valid frame upstream");
    await fake.settle();
    const frame = fake.frames.find((f) => f.participantId === participantId && f.trackId === "cam-ok");
    expect({ width: frame?.width, height: frame?.height }).toEqual({ width: 64, height: 48 });
    expect(fake.frames.some((f) => f.participantId === participantId && f.trackId === "cam-bad")).toBe(false);
    expect(c.ofType("error")).toHaveLength(3);
    expect(c.closed).toBeNull();
  });

  it("refuses upgrades without a valid connect token (401) and invalid participant ids (400)", async () => {
    const url = streamUrl(dev.url, "e2e-auth-target");
    const results: Record<string, number> = {};

    results.noToken = (await upgradeStatus(url)).status;
    results.garbageToken = (await upgradeStatus(url, { authorization: "Bearer not.a.token" })).status;
    const { token: otherToken } = await mintConnectToken(dev.url, ADMIN_KEY, "someone-else", 600);
    results.otherParticipantToken = (await upgradeStatus(url, { authorization: `Bearer ${otherToken}` })).status;

    const { token } = await mintConnectToken(dev.url, ADMIN_KEY, "e2e-auth-target", 600);
    results.queryToken = (await upgradeStatus(`${url}?token=${encodeURIComponent(token)}`)).status;
    results.badId = (await upgradeStatus(streamUrl(dev.url, "bad!id"), { authorization: `Bearer ${token}` })).status;
    results.tooLongId = (await upgradeStatus(streamUrl(dev.url, "x".repeat(129)), { authorization: `Bearer ${token}` })).status;

    const noAdmin = await fetch(`${dev.url}/v1/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ participant_id: "p", ttl_s: 60 }),
    });
    results.tokensWithoutAdminKey = noAdmin.status;
    const badIdToken = await fetch(`${dev.url}/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ participant_id: "bad id", ttl_s: 60 }),
    });
    results.tokenForBadId = badIdToken.status;
    measure(`access control statuses: ${JSON.stringify(results)}`);

    expect(results.noToken).toBe(401);
    expect(results.garbageToken).toBe(401);
    expect([401, 403]).toContain(results.otherParticipantToken);
    expect(results.queryToken).toBe(101);
    expect(results.badId).toBe(400);
    expect(results.tooLongId).toBe(400);
    expect(results.tokensWithoutAdminKey).toBe(401);
    expect(results.tokenForBadId).toBe(400);
  });
});
