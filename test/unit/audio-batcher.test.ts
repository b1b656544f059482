/**
 * The SDK's audio batching: consecutive frames of one track become one AudioFrame of audioBatchMs
 * (default 100 ms), in order and byte for byte; a change of track or format, a Speaking marker, a
 * close and the batch timer send what is pending; nothing is held across a disconnect.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { AudioBatcher, type PcmFrame } from "../../src/client/audio-batcher";
import { DeepfakeEdgeClient } from "../../src/client/client";
import { FakeClock, fakeServer } from "./client-fakes";

const pcm = (ms: number, rate = 16_000, channels = 1, seed = 0, trackId = "microphone", timestampMs = 0): PcmFrame => ({
  trackId,
  sampleRate: rate,
  channels,
  timestampMs,
  data: new Uint8Array(((rate * ms) / 1000) * 2 * channels).map((_, i) => (i * 7 + seed) & 255),
});
const concat = (frames: PcmFrame[]) => new Uint8Array(frames.flatMap((f) => Array.from(f.data)));

describe("AudioBatcher", () => {
  it("joins five 20 ms frames into one 100 ms frame with the first frame's timestamp, bytes in order", () => {
    const b = new AudioBatcher(100);
    const frames = [0, 1, 2, 3, 4].map((k) => pcm(20, 16_000, 1, k, "microphone", 1_000 + 20 * k));
    const out = frames.flatMap((f) => b.push(f));
    expect(out).toHaveLength(1);
    expect(out[0]!.timestampMs).toBe(1_000);
    expect(out[0]!.data).toEqual(concat(frames));
    expect(b.pendingMs).toBe(0);
  });

  it("a change of track, rate or channels sends the pending batch first", () => {
    const b = new AudioBatcher(100);
    expect(b.push(pcm(20))).toEqual([]);
    expect(b.push(pcm(20, 16_000, 1, 0, "other")).map((f) => f.trackId)).toEqual(["microphone"]);
    expect(b.push(pcm(20, 48_000, 1, 0, "other")).map((f) => f.sampleRate)).toEqual([16_000]);
    expect(b.push(pcm(20, 48_000, 2, 0, "other")).map((f) => f.channels)).toEqual([1]);
    expect(b.flush().map((f) => [f.sampleRate, f.channels])).toEqual([[48_000, 2]]);
  });

  it("never makes a message longer than 1 s, whatever the frames", () => {
    const b = new AudioBatcher(1_000);
    const out = [...b.push(pcm(600)), ...b.push(pcm(600)), ...b.flush()];
    expect(out.map((f) => f.data.byteLength / 2 / 16)).toEqual([600, 600]);
  });

  it("0 sends every frame as it is; out-of-range lengths are refused", () => {
    const b = new AudioBatcher(0);
    const f = pcm(20);
    expect(b.push(f)).toEqual([f]);
    expect(() => new AudioBatcher(1_001)).toThrow(RangeError);
    expect(() => new AudioBatcher(-1)).toThrow(RangeError);
  });

  it("discard forgets the pending frames and says how many", () => {
    const b = new AudioBatcher(100);
    b.push(pcm(20));
    b.push(pcm(20));
    expect(b.discard()).toBe(2);
    expect(b.flush()).toEqual([]);
  });
});

describe("DeepfakeEdgeClient audio batching (default 100 ms)", () => {
  let clock: FakeClock;
  let server: ReturnType<typeof fakeServer>;
  beforeEach(() => {
    clock = new FakeClock();
    server = fakeServer(clock);
  });
  async function connected(options: { audioBatchMs?: number; vad?: boolean } = {}) {
    const client = new DeepfakeEdgeClient({ baseUrl: "http://edge.test", participantId: "p1", socketFactory: server.factory, timers: clock, probeAuth: false, hello: { vad: options.vad ?? false }, ...(options.audioBatchMs === undefined ? {} : { audioBatchMs: options.audioBatchMs }) });
    void client.connect();
    await clock.advance(0);
    server.last().accept();
    return client;
  }
  const frame20 = (seed: number) => ({ sampleRate: 48_000, channels: 1, data: new Int16Array(960).map((_, i) => i + seed) });

  it("one second of 20 ms frames goes out as 10 messages of 100 ms, every sample in order", async () => {
    const client = await connected();
    const frames = Array.from({ length: 50 }, (_, k) => frame20(k));
    for (const f of frames) expect(client.sendAudio(f)).toBe("sent");
    const audio = server.last().sentOf("audio").map((m) => m.audio!);
    expect(audio).toHaveLength(10);
    expect(audio.every((a) => a.data!.byteLength === 4_800 * 2 && a.sampleRate === 48_000)).toBe(true);
    const samples = audio.flatMap((a) => Array.from(new Int16Array(new Uint8Array(a.data!).buffer)));
    expect(samples).toEqual(frames.flatMap((f) => Array.from(f.data)));
    expect(client.stats.sent.audioFrames).toBe(10);
  });

  it("a batch the host stops feeding leaves after 100 ms", async () => {
    const client = await connected();
    client.sendAudio(frame20(0));
    await clock.advance(99);
    expect(server.last().sentOf("audio")).toHaveLength(0);
    await clock.advance(1);
    expect(server.last().sentOf("audio").map((m) => m.audio!.data!.byteLength)).toEqual([1_920]);
  });

  it("a Speaking marker follows the audio sent before it; close() sends the last batch first", async () => {
    const client = await connected({ vad: true });
    client.sendAudio(frame20(0));
    client.setSpeaking(false);
    client.sendAudio(frame20(1));
    const socket = server.last();
    client.close();
    expect(socket.sent.map((m) => m.payload)).toEqual(["hello", "audio", "speaking", "audio"]);
  });

  it("pending audio is dropped (and counted) when the socket goes away, never sent on the next one", async () => {
    const client = await connected();
    client.sendAudio(frame20(0));
    client.sendAudio(frame20(1));
    server.last().drop(1006);
    expect(client.stats.dropped.disconnected).toBe(2);
    await clock.advance(1_500);
    server.last().accept();
    await clock.advance(200);
    expect(server.last().sentOf("audio")).toHaveLength(0);
  });

  it("audioBatchMs: 0 sends each frame as given", async () => {
    const client = await connected({ audioBatchMs: 0 });
    for (let k = 0; k < 5; k++) client.sendAudio(frame20(k));
    expect(server.last().sentOf("audio")).toHaveLength(5);
  });
});
