/**
 * Typed events: each server event reaches the listeners of its `type` with its fields; malformed or
 * unknown text never does (it is counted). Also the message builders' checks and the audio
 * fallback for servers that reject audio.
 */
import { beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { parseServerEvent, type RateEvent, type ReadyEvent } from "../../src/client/events";
import type { DeepfakeAlert } from "../../src/protocol/events";
import { audioMessage, videoMessage } from "../../src/client/messages";
import { PcmFramer, floatToS16, samplesPerFrame } from "../../src/client/pcm";
import { FakeClock, connectedClient, fakeJpeg, fakeServer } from "./client-fakes";

let clock: FakeClock;
let server: ReturnType<typeof fakeServer>;

const alert = {
  type: "deepfake_alert",
  id: "evt_1",
  level: "suspicious",
  previous_level: "clear",
  participant_id: "p1",
  track_id: "camera",
  message: "SIMULATED result: suspicious",
  timestamp_ms: 1_730_000_000_000,
  reason: "result",
  simulated: true,
};

beforeEach(() => {
  clock = new FakeClock();
  server = fakeServer(clock);
});

describe("typed events", () => {
  it("dispatches each event type to its listeners with typed fields", async () => {
    const client = await connectedClient(server, clock, false);
    const seen: string[] = [];
    client.on("ready", (e) => {
      expectTypeOf(e).toEqualTypeOf<ReadyEvent>();
      seen.push(`ready ${e.level} ${e.video_fps} simulated=${e.simulated}`);
    });
    client.on("rate", (e) => {
      expectTypeOf(e).toEqualTypeOf<RateEvent>();
      seen.push(`rate ${e.video_fps}`);
    });
    client.on("deepfake_alert", (e) => {
      expectTypeOf(e).toEqualTypeOf<DeepfakeAlert>();
      expectTypeOf(e.level).toEqualTypeOf<"clear" | "suspicious" | "alert">();
      seen.push(`alert ${e.previous_level}->${e.level} ${e.track_id}`);
    });
    client.on("upstream", (e) => seen.push(`upstream ${e.status} ${e.retry_in_ms ?? "-"}`));
    client.on("upstream_error", (e) => seen.push(`upstream_error ${e.track_id}: ${e.message}`));
    client.on("error", (e) => seen.push(`error ${e.code}`));
    const socket = server.last();
    socket.accept(0.2, { notice: "SIMULATED RESULTS" });
    socket.push({ type: "upstream", status: "connected" });
    socket.push(alert);
    socket.push({ type: "rate", video_fps: 1 });
    socket.push({ type: "upstream", status: "reconnecting", retry_in_ms: 1200 });
    socket.push({ type: "upstream_error", track_id: "camera", message: "bad frame" });
    socket.push({ type: "error", code: "bad_jpeg", message: "not a JPEG" });
    expect(seen).toEqual([
      "ready clear 0.2 simulated=true",
      "upstream connected -",
      "alert clear->suspicious camera",
      "rate 1",
      "upstream reconnecting 1200",
      "upstream_error camera: bad frame",
      "error bad_jpeg",
    ]);
    expect(client.stats.serverErrors).toBe(1);
  });

  it("drops malformed, unknown and binary messages without calling listeners, and counts them", async () => {
    const client = await connectedClient(server, clock, false);
    let calls = 0;
    for (const type of ["ready", "rate", "deepfake_alert", "upstream", "upstream_error", "error"] as const) client.on(type, () => calls++);
    const socket = server.last();
    socket.open();
    socket.push("not json");
    socket.push("[1,2]");
    socket.push({ type: "hello_from_the_future", x: 1 });
    socket.push({ type: "rate", video_fps: -1 });
    socket.push({ type: "rate", video_fps: "fast" });
    socket.push({ ...alert, level: "panic" });
    socket.push({ type: "upstream", status: "sideways" });
    socket.push({ type: "ready", participant_id: "p1", level: "clear", video_fps: 1 }); // no simulated/dev_mode
    socket.pushBinary(new Uint8Array([1, 2, 3]));
    expect(calls).toBe(0);
    expect(client.stats.badEvents).toBe(9);
    expect(client.videoFps).toBeNull();
  });

  it("a listener that throws does not stop the others; off() and once() work", async () => {
    const client = await connectedClient(server, clock, false);
    const errors = console.error;
    console.error = () => undefined;
    try {
      const got: number[] = [];
      client.on("rate", () => {
        throw new Error("boom");
      });
      const off = client.on("rate", (e) => got.push(e.video_fps));
      client.once("rate", (e) => got.push(-e.video_fps));
      const socket = server.last();
      socket.accept();
      socket.push({ type: "rate", video_fps: 1 });
      off();
      socket.push({ type: "rate", video_fps: 0.2 });
      expect(got).toEqual([1, -1]);
    } finally {
      console.error = errors;
    }
  });

  it("parseServerEvent keeps unknown extra fields and rejects non-objects", () => {
    expect(parseServerEvent('{"type":"rate","video_fps":1,"extra":true}')).toEqual({ ok: true, event: { type: "rate", video_fps: 1, extra: true } });
    expect(parseServerEvent("null")).toMatchObject({ ok: false });
    expect(parseServerEvent('{"type":"toString"}')).toMatchObject({ ok: false, reason: expect.stringContaining("unknown") });
  });
});

describe("audio on a server without the audio path", () => {
  it("stops sending audio on this connection after an unsupported_format error about audio, and retries after a reconnect", async () => {
    const client = await connectedClient(server, clock, false);
    const socket = server.last();
    socket.accept();
    const frame = { sampleRate: 48_000, channels: 1, data: new Int16Array(4_800) }; // 100 ms: one whole batch, sent at once
    expect(client.sendAudio(frame)).toBe("sent");
    expect(socket.sentOf("audio")).toHaveLength(1);
    socket.push({ type: "error", code: "unsupported_format", message: "audio ingest is not enabled on this deployment yet" });
    expect(client.sendAudio(frame)).toBe("audio_rejected");
    expect(client.stats.dropped.audio_rejected).toBe(1);
    // Video is unaffected.
    expect(client.sendVideo({ width: 640, height: 480, format: "JPEG", data: fakeJpeg() })).toBe("sent");
    socket.drop(1006);
    await clock.advance(1_500); // 1 s + up to 50 % jitter
    expect(server.last()).not.toBe(socket);
    server.last().accept();
    expect(client.sendAudio(frame)).toBe("sent");
  });

  it("a video unsupported_format error does not stop audio", async () => {
    const client = await connectedClient(server, clock, false);
    server.last().accept();
    const frame = { sampleRate: 16_000, channels: 2, data: new Int16Array(640) };
    expect(client.sendAudio(frame)).toBe("sent");
    server.last().push({ type: "error", code: "unsupported_format", message: "pixel format 9 is not supported" });
    expect(client.sendAudio(frame)).toBe("sent");
  });
});

describe("message builders", () => {
  it("encodes audio as s16 little-endian with its rate and channels", () => {
    const msg = audioMessage({ sampleRate: 44_100, channels: 2, data: new Int16Array([1, -2, 0x1234, -32768]), timestampMs: 5 });
    expect(msg.audio).toMatchObject({ trackId: "microphone", sampleRate: 44_100, channels: 2, timestampMs: 5 });
    expect([...(msg.audio!.data as Uint8Array)]).toEqual([1, 0, 0xfe, 0xff, 0x34, 0x12, 0x00, 0x80]);
  });

  it("refuses audio the server would reject, with the server's own check (AudioError)", () => {
    const data = new Int16Array(320);
    expect(() => audioMessage({ sampleRate: 96_000, channels: 1, data })).toThrow(/sample_rate/);
    expect(() => audioMessage({ sampleRate: 16_000, channels: 3, data })).toThrow(/channels/);
    expect(() => audioMessage({ sampleRate: 16_000, channels: 2, data: new Uint8Array(6) })).toThrow(/whole number/);
    expect(() => audioMessage({ sampleRate: 8_000, channels: 1, data: new Int16Array(8_001) })).toThrow(/1000 ms/);
  });

  it("refuses raw video whose size does not match, and non-JPEG data labelled JPEG", () => {
    expect(() => videoMessage({ width: 480, height: 360, format: "RGBA", data: new Uint8Array(480 * 360 * 3) })).toThrow(/needs 691200 bytes/);
    expect(() => videoMessage({ width: 4, height: 4, format: "JPEG", data: new Uint8Array(100) })).toThrow(/SOI/);
    expect(videoMessage({ width: 3, height: 3, format: "I420", data: new Uint8Array(9 + 2 * 4), source: "screen" }).video).toMatchObject({
      trackId: "camera",
      format: 3,
      source: 2,
    });
  });

  it("PcmFramer cuts 128-sample render blocks into 20 ms s16 frames", () => {
    const framer = new PcmFramer(samplesPerFrame(48_000));
    const frames = [];
    for (let i = 0; i < 15; i++) frames.push(...framer.push(new Float32Array(128).fill(0.5)));
    expect(frames).toHaveLength(2); // 15 * 128 = 1920 = 2 * 960
    expect(frames.every((f) => f.length === 960 && f[0] === 16384)).toBe(true);
    expect(framer.pending).toBe(0);
    expect([...floatToS16(new Float32Array([2, -2, Number.NaN, -0.5]))]).toEqual([32767, -32768, 0, -16384]);
  });
});
