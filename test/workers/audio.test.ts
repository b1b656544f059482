import { describe, expect, it } from "vitest";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { cloudflare } from "../../src/gen/packet.js";
import { ADMIN, call, connect, mintToken, simulatorStats, waitUntil } from "./helpers.js";

const v1 = deepfake_edge.v1;
const Packet = cloudflare.realtime.v1.Packet;

/** 20 ms of a 440 Hz tone, 48 kHz interleaved stereo s16le. */
function toneFrame(index: number, amplitude = 12_000): Uint8Array {
  const samples = 960;
  const data = new Uint8Array(samples * 4);
  const view = new DataView(data.buffer);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * (index * samples + i)) / 48_000));
    view.setInt16(i * 4, v, true);
    view.setInt16(i * 4 + 2, v, true);
  }
  return data;
}

describe("audio through the participant object", () => {
  it("sends a zero-padded 96 000-byte PCM chunk when a 1.5 s utterance ends (client VAD)", async () => {
    const id = "audio-1";
    const s = await connect(id, await mintToken(id));
    await s.next("upstream");
    // Pauses between the phases: the test pool's socket can deliver one burst out of order (a real
    // workerd under `wrangler dev` keeps it in order: see the unpaced-burst test in test/e2e/audio.e2e.test.ts).
    const pause = () => new Promise((r) => setTimeout(r, 100));
    s.ws.send(v1.ClientMessage.encode({ hello: { client: "test", vad: true } }).finish());
    s.ws.send(v1.ClientMessage.encode({ speaking: { speaking: true } }).finish());
    await pause();
    for (let i = 0; i < 75; i++) {
      s.ws.send(v1.ClientMessage.encode({ audio: { trackId: "mic", sampleRate: 48_000, channels: 2, timestampMs: i * 20, data: toneFrame(i) } }).finish());
    }
    await pause();
    s.ws.send(v1.ClientMessage.encode({ speaking: { speaking: false } }).finish());
    await waitUntil(async () => ((await simulatorStats(id)) as unknown as { pcm_chunks: number }).pcm_chunks === 1, 15_000).catch(async (err) => {
      const snapshot = await (await call(`/v1/participants/${id}`, { headers: ADMIN })).text();
      throw new Error(`${err}: simulator ${JSON.stringify(await simulatorStats(id))}; snapshot ${snapshot}; events ${JSON.stringify(s.events)}`);
    });
    const stats = (await simulatorStats(id)) as unknown as { pcm_chunks: number; rejected: number };
    expect(stats.rejected).toBe(0);
    expect(s.events.filter((e) => e.type === "error")).toEqual([]);
    s.ws.close(1000);
  });

  it("rejects malformed audio with bad_audio and keeps the socket", async () => {
    const id = "audio-2";
    const s = await connect(id, await mintToken(id));
    await s.next("ready");
    s.ws.send(v1.ClientMessage.encode({ audio: { trackId: "mic", sampleRate: 48_000, channels: 2, data: new Uint8Array(3) } }).finish());
    expect(await s.next("error")).toMatchObject({ code: "bad_audio" });
    s.ws.send(v1.ClientMessage.encode({ audio: { trackId: "mic", sampleRate: 0, channels: 1, data: new Uint8Array(4) } }).finish());
    expect(await s.next("error")).toMatchObject({ code: "bad_audio" });
    s.ws.send(v1.ClientMessage.encode({ audio: { trackId: "mic", sampleRate: 16_000, channels: 3, data: new Uint8Array(12) } }).finish());
    expect(await s.next("error")).toMatchObject({ code: "bad_audio" });
    s.ws.close(1000);
  });

  it("accepts Realtime SFU adapter Packets on /sfu/audio and sends PCM chunks through the built-in gate", async () => {
    const id = "sfu-1";
    const token = await mintToken(id);
    const res = await call(`/v1/participants/${id}/sfu/audio?token=${token}`, { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const received: unknown[] = [];
    ws.addEventListener("message", (e) => received.push(e.data));
    // 0.5 s of silence, then 4 s of tone, then 1 s of silence: the gate opens on the tone.
    let seq = 0;
    const send = (payload: Uint8Array) => ws.send(Packet.encode({ sequenceNumber: seq, timestamp: seq * 960, payload }).finish());
    // Paced at about 1.4x real time (100 ms of audio every 70 ms): audio faster than 1.5x is rate-limited.
    const frames = [...Array.from({ length: 25 }, () => new Uint8Array(3840)), ...Array.from({ length: 200 }, (_, i) => toneFrame(i)), ...Array.from({ length: 50 }, () => new Uint8Array(3840))];
    for (let i = 0; i < frames.length; i++, seq++) {
      send(frames[i]!);
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 70));
    }
    await waitUntil(async () => ((await simulatorStats(id)) as unknown as { pcm_chunks: number }).pcm_chunks >= 1, 15_000);
    expect(((await simulatorStats(id)) as unknown as { rejected: number }).rejected).toBe(0);
    // SFU feeds get no JSON events.
    expect(received).toEqual([]);
    ws.close(1000);
  });
});
