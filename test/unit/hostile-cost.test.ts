/**
 * The worst CPU one hostile socket can make its participant's object spend per second (docs/DESIGN.md
 * §5), measured in Node with the real pipeline: budgets, parser, media intake, pixel conversion and
 * the real libjpeg-turbo WASM encoder. Each pattern runs at its budget for three simulated seconds (the
 * clock is passed in); the CPU spent on each simulated second after the first (whose bursts are
 * a one-off) is measured with process.cpuUsage. The figures are printed as `[measure]` lines and
 * SECURITY.md quotes them. Workerd's own per-message cost comes on top (test/e2e/security.e2e.test.ts).
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { encode, init as initEncoder } from "../../src/media/codec/turbo-encoder";
import type { RawPixelFormat } from "../../src/protocol/frames";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { parseConfig } from "../../src/config/config";
import { activateParticipant } from "../../src/session/active-participant";
import { Connections } from "../../src/session/connections";
import { SocketMessages } from "../../src/session/socket-messages";

const v1 = deepfake_edge.v1;
beforeAll(() => {
  initEncoder(new WebAssembly.Module(readFileSync(new URL("../../src/media/codec/jpeg-turbo.wasm", import.meta.url))));
});

const encodeJpeg = async (pixels: Uint8Array, width: number, height: number, format: RawPixelFormat, quality: number) => encode(pixels, width, height, format, quality);

class Sink {
  attachment: unknown = null;
  closed = false;
  serializeAttachment(v: unknown) {
    this.attachment = v;
  }
  deserializeAttachment() {
    return this.attachment;
  }
  send() {}
  close() {
    this.closed = true;
  }
}

/** A participant object's message path, in SUSPICIOUS (video sampled at 1 fps: the costliest level). */
function object() {
  const sockets: Sink[] = [];
  const connections = new Connections<Sink>({ getWebSockets: () => sockets.filter((s) => !s.closed), getTags: () => ["client"] });
  const config = parseConfig({ DEV_MODE: "true", AUDIO_INTERVAL_S: "0" });
  const live = activateParticipant(config, { participantId: "h", level: "suspicious", sinceMs: 0 }, [], 0, encodeJpeg, { send: () => undefined, count: () => undefined });
  const messages = new SocketMessages<Sink>({ config, sockets: connections, live: () => live, wantUpstream: () => undefined, count: () => undefined, tracksClosed: () => undefined, left: () => undefined });
  const ws = new Sink();
  sockets.push(ws);
  connections.attach(ws, "client", 0);
  return { messages, ws };
}

const buffer = (m: deepfake_edge.v1.ClientMessage.$Properties) => v1.ClientMessage.encode(m).finish().slice().buffer;

/** One simulated second of a pattern: the messages it sends at `t`, spread over the second. */
type Pattern = (second: number) => Array<{ atMs: number; data: ArrayBuffer | string }>;

async function cpuPerSecond(pattern: Pattern, keepsSocket: boolean, count: number): Promise<number> {
  const { messages, ws } = object();
  const seconds: number[] = [];
  for (let second = 0; second < count; second++) {
    const batch = pattern(second);
    const start = process.cpuUsage();
    for (const { atMs, data } of batch) if (!ws.closed) await messages.receive(ws, data, atMs);
    const used = process.cpuUsage(start);
    seconds.push((used.user + used.system) / 1000);
  }
  expect(ws.closed, keepsSocket ? "a pattern at its budget keeps its socket" : "a flood over its budget is closed").toBe(!keepsSocket);
  // At the budget: the steady state (after the first second's bursts). Over it: the whole run (it is closed early).
  return keepsSocket ? Math.max(...seconds.slice(1)) : seconds.reduce((a, b) => a + b, 0);
}

const spread = (second: number, n: number, make: (i: number) => ArrayBuffer | string) =>
  Array.from({ length: n }, (_, i) => ({ atMs: 1_000_000 + second * 1000 + Math.floor((i * 1000) / n), data: make(i) }));

const hello = buffer({ hello: { client: "h" } });
const garbage = new Uint8Array(512).map((_, i) => (i * 97 + 13) & 255).buffer;
/** `length` bytes of a repeating pattern, filled by doubling (an element-wise map over megabytes takes seconds). */
function patterned(length: number, byte: (i: number) => number): Uint8Array {
  const out = new Uint8Array(length);
  const period = Math.min(length, 4096);
  for (let i = 0; i < period; i++) out[i] = byte(i);
  for (let filled = period; filled < length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, length - filled));
  return out;
}
const junkJpegData = patterned(8_000_000, (i) => (i * 7) & 0x7f);
junkJpegData.set([0xff, 0xd8]);
const junkJpeg = buffer({ video: { trackId: "j", width: 0, height: 0, format: v1.PixelFormat.JPEG, source: 1, data: junkJpegData } });
const audio = buffer({ audio: { trackId: "mic", sampleRate: 48_000, channels: 2, data: new Uint8Array(960 * 4).map((_, i) => (i * 13) & 255) } });
const i420 = (track: number) =>
  buffer({ video: { trackId: `t${track}`, width: 1920, height: 1080, format: v1.PixelFormat.I420, source: 1, data: patterned(1920 * 1080 * 1.5, (i) => (i * 31 + track) & 255) } });

const results: Record<string, number> = {};
async function measured(name: string, pattern: Pattern, keepsSocket = true, seconds = 3): Promise<void> {
  results[name] = await cpuPerSecond(pattern, keepsSocket, seconds);
  console.log(`[measure] hostile socket, ${name}: ${results[name]!.toFixed(0)} ms of CPU per second`);
}

describe("the worst CPU one hostile socket can cost per second (Node, production-speed WASM)", () => {
  it("garbage at the message budget (250/s), each a decode failure answered with an error event", async () => {
    await measured("garbage at 250 messages/s", (s) => spread(s, 250, (i) => (i % 20 === 19 ? hello : garbage)));
  });

  it("a garbage flood (10 000/s) is refused unparsed and closed (then 5 s of 429)", async () => {
    await measured("garbage flood, 10 000 messages/s (closed)", (s) => spread(s, 10_000, (i) => (i % 20 === 19 ? hello : garbage)), false);
  });

  it("as many 8 MB bogus JPEGs as the byte budget admits (16/s)", async () => {
    await measured("8 MB bogus JPEGs at the byte budget", (s) => spread(s, 16, () => junkJpeg));
  });

  it("audio at the 1.5x real-time budget, and a 10x flood (closed), 48 kHz stereo", async () => {
    await measured("audio 1.5x real time, 48 kHz stereo", (s) => spread(s, 75, () => audio));
    await measured("audio flood 10x real time (closed)", (s) => spread(s, 500, () => audio), false);
  });

  it("30 fps of 1080p I420 over 8 tracks: the encode budget lets 1.25 frames a second be converted and encoded", async () => {
    const tracks = Array.from({ length: 8 }, (_, k) => i420(k));
    await measured("8 tracks of 1080p I420 at 30 fps (SUSPICIOUS)", (s) => spread(s, 30, (i) => tracks[i % 8]!), true, 2);
    const worst = Math.max(...Object.values(results));
    console.log(`[measure] hostile socket, worst pattern: ${worst.toFixed(0)} ms of CPU per second (Node; workerd adds its per-message cost)`);
    // At most the encode budget's 1.25 largest frames a second (one such encode takes a few hundred ms here).
    expect(worst).toBeLessThan(1_500);
  });
});

describe("the worst CPU one hostile participant can cost: 16 sockets x 4 audio tracks (Node)", () => {
  /** 24 ms of 48 kHz stereo per message: 62.5 a second per track is 1.5x real time, 4 tracks are 250 messages/s. */
  const tracks = Array.from({ length: 4 }, (_, k) =>
    buffer({ audio: { trackId: `mic-${k}`, sampleRate: 48_000, channels: 2, data: patterned(1152 * 4, (i) => (i * 13 + k) & 255) } }),
  );

  it("every socket at its own budget: the participant's shared cap holds the object to about one client's worth", async () => {
    const { messages, open } = participantObject();
    let sockets = Array.from({ length: 16 }, () => open(1_000_000));
    const perSecond: number[] = [];
    let closes = 0;
    const counted = new Set<object>();
    for (let second = 0; second < 20; second++) {
      const t0 = 1_000_000 + second * 1000;
      // A closed socket reconnects as soon as the participant's cool-down allows.
      closes += sockets.filter((ws) => ws.closed && !counted.has(ws) && counted.add(ws)).length;
      sockets = sockets.map((ws) => (ws.closed && messages.cooldown(t0) === null ? open(t0) : ws));
      const start = process.cpuUsage();
      for (let i = 0; i < 250; i++) {
        const atMs = t0 + Math.floor((i * 1000) / 250);
        for (const ws of sockets) if (!ws.closed) await messages.receive(ws, tracks[i % 4]!, atMs);
      }
      const used = process.cpuUsage(start);
      perSecond.push((used.user + used.system) / 1000);
    }
    const steady = perSecond.slice(12);
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    results["16 sockets x 4 tracks"] = mean;
    console.log(
      `[measure] hostile participant, 16 sockets x 4 tracks of 48 kHz stereo, each socket at its budget (4 000 messages/s): ` +
        `${mean.toFixed(0)} ms of CPU per second (steady, seconds 12-20), ${Math.max(...perSecond).toFixed(0)} ms in the worst second; ${closes} sockets closed`,
    );
    expect(closes).toBeGreaterThan(0);
    expect(mean).toBeLessThan(1_000);
  });
});

/** A participant object that can open many sockets (same path as object()). */
function participantObject() {
  const sockets: Sink[] = [];
  const connections = new Connections<Sink>({ getWebSockets: () => sockets.filter((s) => !s.closed), getTags: () => ["client"] });
  const config = parseConfig({ DEV_MODE: "true", AUDIO_INTERVAL_S: "0" });
  const live = activateParticipant(config, { participantId: "h", level: "suspicious", sinceMs: 0 }, [], 0, encodeJpeg, { send: () => undefined, count: () => undefined });
  const messages = new SocketMessages<Sink>({ config, sockets: connections, live: () => live, wantUpstream: () => undefined, count: () => undefined, tracksClosed: () => undefined, left: () => undefined });
  const open = (nowMs: number) => {
    const ws = new Sink();
    sockets.push(ws);
    connections.attach(ws, "client", nowMs);
    return ws;
  };
  return { messages, open };
}
