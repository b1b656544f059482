/**
 * End-to-end with the DEFAULT configuration (docs/DESIGN.md §4, §5): raw frames at the sizes real clients
 * send reach the upstream as same-sized JPEGs, oversize input is refused cleanly, the queue's age
 * bound keeps an outage's backlog off the wire, speaking state belongs to its socket, and a
 * connection can lower its own video rates.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectParticipant,
  connectUrl,
  makeRgbFrame,
  mintConnectToken,
  PixelFormat,
  streamUrl,
  upgradeStatus,
  VideoSource,
  type ParticipantClient,
} from "./harness/client.js";
import { FakeUpstream, FrameFormat, productionVars, type ReceivedFrame } from "./harness/fake-upstream.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "sizes-key";
const ADMIN_KEY = "sizes-admin-0123456789";

let fake: FakeUpstream;
let dev: WranglerDev;
const clients: ParticipantClient[] = [];

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY, keepPcm: true });
  // Production mode with every default: no sampling, queue or size var is overridden.
  dev = await startWranglerDev({ vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }) });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await dev?.stop();
  await fake?.close();
});

async function open(participantId: string, query = ""): Promise<ParticipantClient> {
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, participantId, 600);
  const client = query
    ? await connectUrl(`${streamUrl(dev.url, participantId)}?${query}`, { authorization: `Bearer ${token}` })
    : await connectParticipant(dev.url, participantId, token);
  clients.push(client);
  await client.waitFor((e) => e.type === "ready", 10_000);
  return client;
}

async function snapshot(participantId: string): Promise<{ counters: Record<string, number>; level: string }> {
  const res = await fetch(`${dev.url}/v1/participants/${participantId}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  return (await res.json()) as { counters: Record<string, number>; level: string };
}

/** A camera-like frame of the given format and size (a moving gradient). */
function rawFrame(format: "RGB24" | "RGBA" | "I420", width: number, height: number, index: number): Uint8Array {
  const rgb = makeRgbFrame(index, width, height);
  if (format === "RGB24") return rgb;
  if (format === "RGBA") {
    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
      rgba[q] = rgb[p]!;
      rgba[q + 1] = rgb[p + 1]!;
      rgba[q + 2] = rgb[p + 2]!;
      rgba[q + 3] = 255;
    }
    return rgba;
  }
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const yuv = new Uint8Array(width * height + 2 * cw * ch);
  for (let i = 0; i < width * height; i++) yuv[i] = 16 + ((rgb[i * 3]! * 219) >> 8);
  yuv.fill(128, width * height);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) yuv[width * height + y * cw + x] = 64 + ((x * 128) / cw);
  return yuv;
}

const framesOf = (participantId: string, trackId?: string): ReceivedFrame[] =>
  fake.frames.filter((f) => f.participantId === participantId && f.format === FrameFormat.JPEG && (trackId === undefined || f.trackId === trackId));

describe("raw frames at real sizes, default limits", () => {
  it("640x480 RGBA at 15 fps from the first frame (a browser canvas): sampled at 0.2 fps, every JPEG 640x480, no error", async () => {
    const id = `rgba-${Date.now().toString(36)}`;
    const client = await open(id);
    const data = rawFrame("RGBA", 640, 480, 0);
    expect(data.byteLength).toBe(1_228_800); // over the old 1 MiB cap
    const startMs = Date.now();
    let sent = 0;
    const timer = setInterval(() => {
      client.sendVideo({ trackId: "camera", width: 640, height: 480, format: PixelFormat.RGBA, source: VideoSource.CAMERA, data, timestampMs: Date.now() });
      sent++;
    }, 1000 / 15);
    await sleep(21_000);
    clearInterval(timer);
    await sleep(500);
    await fake.settle();
    const frames = framesOf(id, "camera");
    const span = (frames.at(-1)!.atMs - frames[0]!.atMs) / 1000;
    const counters = (await snapshot(id)).counters;
    measure(
      `640x480 RGBA at 15 fps over 21 s: ${sent} sent (${((sent * data.byteLength) / 21 / 1e6).toFixed(1)} MB/s), ${counters.frames_received} received by the object,`,
      `${frames.length} JPEGs upstream (${((frames.length - 1) / span).toFixed(3)} fps between first and last), first ${frames[0]!.atMs - startMs} ms after the first frame`,
    );
    expect(client.ofType("error")).toEqual([]);
    expect(frames.length).toBeGreaterThanOrEqual(4);
    expect(frames.length).toBeLessThanOrEqual(6);
    for (const f of frames) expect({ w: f.width, h: f.height, err: f.decodeError }).toEqual({ w: 640, h: 480, err: undefined });
    expect(counters.frames_received).toBeGreaterThanOrEqual(sent * 0.95);
    expect(counters.bad_messages).toBe(0);
  });

  it.each([
    ["RGB24", 1280, 720],
    ["RGBA", 1280, 720],
    ["I420", 1920, 1080],
    ["RGBA", 1920, 1080],
  ] as const)("%s %dx%d reaches the upstream as a JPEG of exactly that size", async (format, width, height) => {
    const id = `size-${format}-${width}-${Date.now().toString(36)}`.toLowerCase();
    const client = await open(id);
    const data = rawFrame(format, width, height, 1);
    client.sendVideo({ trackId: "camera", width, height, format: PixelFormat[format], source: VideoSource.CAMERA, data, timestampMs: Date.now() });
    await fake.waitFor(() => framesOf(id).length >= 1, 20_000, `${format} ${width}x${height} JPEG upstream`);
    await fake.settle();
    const [frame] = framesOf(id);
    measure(`${format} ${width}x${height}: ${data.byteLength} B message -> ${frame!.bytes} B JPEG ${frame!.width}x${frame!.height}`);
    expect({ w: frame!.width, h: frame!.height, err: frame!.decodeError }).toEqual({ w: width, h: height, err: undefined });
    expect(client.ofType("error")).toEqual([]);
  });

  it("a 2000x2000 frame is refused with a clear error (RGBA: message too large; I420: frame too large) and the socket keeps working", async () => {
    const id = `oversize-${Date.now().toString(36)}`;
    const client = await open(id);
    client.sendVideo({ trackId: "camera", width: 2000, height: 2000, format: PixelFormat.RGBA, source: VideoSource.CAMERA, data: new Uint8Array(2000 * 2000 * 4), timestampMs: 1 });
    const tooLarge = await client.waitFor((e) => e.type === "error", 10_000);
    expect(tooLarge.event).toMatchObject({ code: "message_too_large" });
    expect(String(tooLarge.event.message)).toMatch(/8359936-byte limit/);
    client.sendVideo({ trackId: "camera", width: 2000, height: 2000, format: PixelFormat.I420, source: VideoSource.CAMERA, data: rawFrame("I420", 2000, 2000, 0), timestampMs: 2 });
    const frameTooLarge = await client.waitFor((e) => e.type === "error" && e.code === "frame_too_large", 10_000);
    expect(String(frameTooLarge.event.message)).toMatch(/2000x2000 exceeds the maximum of 1920x1080/);
    // Still usable: the next valid frame goes upstream.
    client.sendVideo({ trackId: "camera", width: 640, height: 480, format: PixelFormat.RGB24, source: VideoSource.CAMERA, data: rawFrame("RGB24", 640, 480, 3), timestampMs: 3 });
    await fake.waitFor(() => framesOf(id).length >= 1, 15_000, "the frame after the refused ones");
    await fake.settle();
    expect(framesOf(id).map((f) => [f.timestampMs, f.width, f.height])).toEqual([[3, 640, 480]]);
    expect(client.isOpen).toBe(true);
  });
});

describe("per-connection rate overrides (?normal_fps=&burst_fps=)", () => {
  it("are echoed in ready, lower the sampled rate, and an out-of-range value is refused before the upgrade", async () => {
    const id = `override-${Date.now().toString(36)}`;
    const { token } = await mintConnectToken(dev.url, ADMIN_KEY, id, 600);
    const refused = await upgradeStatus(`${streamUrl(dev.url, id)}?normal_fps=5`, { authorization: `Bearer ${token}` });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "bad_rate" });
    expect(JSON.parse(refused.body).message).toMatch(/normal_fps must be a number from 0 to 0.2/);
    expect((await upgradeStatus(`${streamUrl(dev.url, id)}?burst_fps=abc`, { authorization: `Bearer ${token}` })).status).toBe(400);

    const client = await open(id, "normal_fps=0.1&burst_fps=0.5");
    expect(client.ofType("ready")[0]!.event).toMatchObject({ video_fps: 0.1, normal_fps: 0.1, burst_fps: 0.5 });
    const data = makeRgbFrame(0, 320, 240);
    const timer = setInterval(() => {
      client.sendVideo({ trackId: "camera", width: 320, height: 240, format: PixelFormat.RGB24, source: VideoSource.CAMERA, data, timestampMs: Date.now() });
    }, 1000 / 15);
    await sleep(21_000);
    clearInterval(timer);
    await fake.settle();
    const frames = framesOf(id);
    measure(`?normal_fps=0.1 over 21 s at 15 fps in: ${frames.length} JPEGs upstream (the deployment's 0.2 fps would give 5)`);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.length).toBeLessThanOrEqual(3);
  });
});

describe("speaking state belongs to its socket", () => {
  it("a second socket that says Hello{vad:false} and leaves mid-utterance never cuts the bot's chunk", async () => {
    const id = `vad-${Date.now().toString(36)}`;
    const bot = await open(id);
    bot.sendHello({ client: "bot", vad: true });
    bot.sendMessage({ speaking: { speaking: true } });
    const frame = (i: number): Uint8Array => {
      const out = new Uint8Array(960 * 2);
      const view = new DataView(out.buffer);
      for (let n = 0; n < 960; n++) view.setInt16(n * 2, Math.round(12_000 * Math.sin((2 * Math.PI * 440 * (i * 960 + n)) / 48_000)), true);
      return out;
    };
    const sendSeconds = async (from: number, seconds: number): Promise<number> => {
      const count = seconds * 50;
      for (let i = from; i < from + count; i++) {
        bot.sendMessage({ audio: { trackId: "microphone", sampleRate: 48_000, channels: 1, timestampMs: Date.now(), data: frame(i) } });
        if (i % 5 === 4) await sleep(100);
      }
      return from + count;
    };
    let index = await sendSeconds(0, 2);
    // A dashboard for the same participant joins, says it has no VAD, and leaves.
    const dashboard = await open(id);
    dashboard.sendHello({ client: "dashboard", vad: false });
    await sleep(300);
    await dashboard.close();
    await sleep(300);
    index = await sendSeconds(index, 2);
    bot.sendMessage({ speaking: { speaking: false } });
    await fake.waitFor(() => fake.frames.some((f) => f.participantId === id && f.format === FrameFormat.PCM), 10_000, "a PCM chunk");
    await sleep(1_000);
    const chunks = fake.frames.filter((f) => f.participantId === id && f.format === FrameFormat.PCM);
    const samples = new Int16Array(chunks[0]!.data!.buffer.slice(chunks[0]!.data!.byteOffset, chunks[0]!.data!.byteOffset + chunks[0]!.data!.byteLength));
    const lastSecond = samples.subarray(32_000);
    const peakLastSecond = lastSecond.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    measure(`bot utterance across a dashboard's join/Hello{vad:false}/leave: ${chunks.length} chunk(s) of ${chunks.map((c) => c.bytes).join(", ")} B; peak in the chunk's last second ${peakLastSecond}`);
    // The default 60 s interval allows one chunk; it is a full 3 s of speech, not 2 s cut short and padded.
    expect(chunks.map((c) => c.bytes)).toEqual([96_000]);
    expect(peakLastSecond).toBeGreaterThan(5_000);
  });
});

describe("fresh media after an outage (QUEUE_MAX_AGE_S = 10)", () => {
  it("after a 30 s upstream outage nothing older than 10 s goes out, and the dropped frames are counted", async () => {
    const id = `outage-${Date.now().toString(36)}`;
    const client = await open(id);
    await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
    // SUSPICIOUS: the default burst rate of 1 fps, so 16 queued items would span 16 s without the age bound.
    fake.sendResult("SUSPICIOUS", id, "camera", "steer to burst");
    await client.waitFor((e) => e.type === "rate" && e.video_fps === 1, 10_000);
    fake.setAccepting(false);
    fake.dropAll();
    await client.waitFor((e) => e.type === "upstream" && e.status === "reconnecting", 10_000);
    const data = makeRgbFrame(0, 320, 240);
    const outageStart = Date.now();
    const timer = setInterval(() => {
      client.sendVideo({ trackId: "camera", width: 320, height: 240, format: PixelFormat.RGB24, source: VideoSource.CAMERA, data, timestampMs: Date.now() });
    }, 1000 / 15);
    await sleep(30_000);
    const before = fake.frames.length;
    fake.setAccepting(true);
    const backAt = Date.now();
    await fake.waitFor(() => fake.frames.length > before, 20_000, "frames after the outage");
    await sleep(2_000);
    clearInterval(timer);
    await fake.settle();
    const after = fake.frames.slice(before).filter((f) => f.participantId === id);
    const reconnectedAt = after[0]!.atMs;
    const flushed = after.filter((f) => f.atMs - reconnectedAt < 200);
    const ages = flushed.map((f) => f.atMs - f.timestampMs);
    const counters = (await snapshot(id)).counters;
    measure(
      `30 s outage at 1 fps: upstream back after ${Math.round((reconnectedAt - outageStart) / 1000)} s (reconnect ${reconnectedAt - backAt} ms after it accepted again);`,
      `${flushed.length} queued frames flushed, oldest ${Math.max(...ages)} ms old; dropped_stale ${counters.dropped_stale}, dropped_by_queue ${counters.dropped_by_queue}`,
    );
    expect(Math.max(...after.map((f) => f.atMs - f.timestampMs))).toBeLessThanOrEqual(10_000 + 500);
    expect(counters.dropped_stale).toBeGreaterThan(0);
  });
});
