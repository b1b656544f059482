/**
 * The audio path of a participant end to end in Node (docs/DESIGN.md §2–§5): 48 kHz stereo s16le
 * AudioFrames in, 96000-byte s16le 16 kHz chunks out, gated by Speaking markers or the built-in gate.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { AudioIngest, Tail, type AudioChunk, type AudioFrameInput } from "../../src/media/audio/audio-ingest";
import { AudioError } from "../../src/protocol/audio-frames";
import { dominantFrequencyHz, ratioDb, rms } from "../support/audio-analysis";
import { concat, frames, readS16le, s16le, silence, speechLike, tone, whiteNoise } from "./audio-signals";

const MIC = "microphone";

/** 20 ms AudioFrames of a mono signal sent as interleaved stereo (the right channel attenuated). */
function stereoFrames(signal: Float32Array, rate = 48_000, trackId = MIC): AudioFrameInput[] {
  return frames(signal, (rate * 20) / 1000).map((left) => ({
    trackId,
    sampleRate: rate,
    channels: 2,
    data: s16le(left, left.map((v) => v * 0.5)),
  }));
}

/** Sends frames on a 20 ms clock from startMs; returns the chunks and the clock after. */
function send(ingest: AudioIngest, input: AudioFrameInput[], startMs = 0): { chunks: AudioChunk[]; nowMs: number } {
  const chunks: AudioChunk[] = [];
  let nowMs = startMs;
  for (const frame of input) {
    nowMs += 20;
    chunks.push(...ingest.pushFrame(frame, nowMs));
  }
  return { chunks, nowMs };
}

/** Speaking(true), `seconds` of a 440 Hz 48 kHz stereo tone, Speaking(false). */
function utterance(ingest: AudioIngest, seconds: number, startMs = 0): AudioChunk[] {
  const chunks = ingest.speaking(true, startMs);
  const sent = send(ingest, stereoFrames(tone(440, 48_000, seconds, 0.5)), startMs);
  return [...chunks, ...sent.chunks, ...ingest.speaking(false, sent.nowMs)];
}

describe("AudioIngest with Speaking markers (client VAD)", () => {
  it("7 s of 440 Hz 48 kHz stereo: three 96000-byte chunks (2 full + 1 s padded), each at 440 +- 5 Hz", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    ingest.setClientVad(true);
    const chunks = utterance(ingest, 7);
    expect(chunks.map((c) => c.pcm.byteLength)).toEqual([96_000, 96_000, 96_000]);
    expect(chunks.every((c) => c.trackId === MIC)).toBe(true);
    const estimates = chunks.map((c) => dominantFrequencyHz(readS16le(c.pcm), 16_000));
    console.log(`measured: chunk sizes ${chunks.map((c) => c.pcm.byteLength).join(", ")} bytes; 440 Hz estimates ${estimates.map((f) => f.toFixed(3)).join(", ")} Hz`);
    for (const f of estimates) expect(Math.abs(f - 440)).toBeLessThanOrEqual(5);
    // Level: mono downmix of L = 0.5 and R = 0.25 is 0.375 -> RMS 0.265 of full scale.
    const first = readS16le((chunks[0] as AudioChunk).pcm);
    expect(Math.abs(ratioDb(rms(first.subarray(100)), 0.375 * 32_768 * Math.SQRT1_2))).toBeLessThan(0.1);
    // The third chunk holds the last 1 s: 16000 samples of tone, then zeros.
    const third = readS16le((chunks[2] as AudioChunk).pcm);
    expect(third.subarray(16_000).every((v) => v === 0)).toBe(true);
    expect(rms(third.subarray(0, 16_000))).toBeGreaterThan(5_000);
  });

  it("1.5 s utterance: one chunk whose last 1.5 s are zeros", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    ingest.setClientVad(true);
    const chunks = utterance(ingest, 1.5);
    expect(chunks.length).toBe(1);
    const samples = readS16le((chunks[0] as AudioChunk).pcm);
    expect(samples.length).toBe(48_000);
    expect(samples.subarray(24_000).every((v) => v === 0)).toBe(true);
    expect(rms(samples.subarray(0, 24_000))).toBeGreaterThan(5_000);
    expect(Math.abs(dominantFrequencyHz(samples, 16_000) - 440)).toBeLessThanOrEqual(5);
  });

  it("0.5 s utterance: nothing", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    ingest.setClientVad(true);
    expect(utterance(ingest, 0.5)).toEqual([]);
  });

  it("drops audio outside Speaking, even a loud tone", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    ingest.setClientVad(true);
    expect(send(ingest, stereoFrames(tone(440, 48_000, 5, 0.8))).chunks).toEqual([]);
    expect(ingest.speaking(false, 6_000)).toEqual([]);
  });

  it("the default 60 s interval lets one chunk through per minute", () => {
    const ingest = new AudioIngest();
    ingest.setClientVad(true);
    expect(utterance(ingest, 7).length).toBe(1);
    expect(utterance(ingest, 7, 30_000).length).toBe(0);
    expect(utterance(ingest, 4, 70_000).length).toBe(1);
  });

  it("the first Speaking message switches a client to client VAD", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    expect(ingest.clientVad).toBe(false);
    expect(utterance(ingest, 4.5).length).toBe(2);
    expect(ingest.clientVad).toBe(true);
  });

  it("keeps the frequency across an input rate change mid-utterance (48 kHz -> 44.1 kHz)", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    ingest.speaking(true, 0);
    const a = send(ingest, stereoFrames(tone(440, 48_000, 1.5, 0.5)));
    const b = send(ingest, stereoFrames(tone(440, 44_100, 1.6, 0.5), 44_100), a.nowMs);
    const chunks = [...a.chunks, ...b.chunks];
    expect(chunks.length).toBe(1);
    expect(Math.abs(dominantFrequencyHz(readS16le((chunks[0] as AudioChunk).pcm), 16_000) - 440)).toBeLessThanOrEqual(5);
  });

  it("keeps one buffer per track and labels chunks with their track", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    ingest.speaking(true, 0);
    send(ingest, stereoFrames(tone(440, 48_000, 2, 0.5), 48_000, "a"));
    send(ingest, stereoFrames(tone(880, 48_000, 1.2, 0.5), 48_000, "b"));
    const chunks = ingest.speaking(false, 5_000);
    expect(chunks.map((c) => c.trackId).sort()).toEqual(["a", "b"]);
    const b = chunks.find((c) => c.trackId === "b") as AudioChunk;
    expect(dominantFrequencyHz(readS16le(b.pcm), 16_000)).toBeCloseTo(880, 0);
  });
});

describe("AudioIngest with the built-in gate (no Speaking messages)", () => {
  it("sends a loud tone after silence, from its onset (pre-roll kept), padded at the end", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    const signal = concat(silence(48_000, 2), tone(440, 48_000, 4, 0.5), silence(48_000, 1));
    const { chunks } = send(ingest, stereoFrames(signal));
    // 4 s of tone + 0.4 s hangover = one full chunk and a padded 1.4 s one.
    expect(chunks.map((c) => c.pcm.byteLength)).toEqual([96_000, 96_000]);
    const first = readS16le((chunks[0] as AudioChunk).pcm);
    const estimate = dominantFrequencyHz(first, 16_000);
    console.log(`measured: built-in gate, tone after silence: ${chunks.length} chunks of 96000 bytes, 440 Hz estimate ${estimate.toFixed(3)} Hz`);
    expect(Math.abs(estimate - 440)).toBeLessThanOrEqual(5);
    // The 80 ms the gate needed to decide are in the chunk: it starts at full level.
    expect(Math.abs(ratioDb(rms(first.subarray(20, 1_280)), 0.375 * 32_768 * Math.SQRT1_2))).toBeLessThan(0.5);
    const second = readS16le((chunks[1] as AudioChunk).pcm);
    expect(second.subarray(24_000).every((v) => v === 0)).toBe(true);
  });

  it("sends speech-like bursts over -50 dBFS noise", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    const speech = concat(silence(48_000, 1), speechLike(48_000, 2.5), silence(48_000, 1));
    const noise = whiteNoise(48_000, 4.5, -50, 9);
    const { chunks } = send(ingest, stereoFrames(speech.map((v, i) => v + (noise[i] as number))));
    expect(chunks.map((c) => c.pcm.byteLength)).toEqual([96_000]);
  });

  it("never sends silence or low noise", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    expect(send(ingest, stereoFrames(silence(48_000, 10))).chunks).toEqual([]);
    expect(send(ingest, stereoFrames(whiteNoise(48_000, 10, -50, 2)), 10_000).chunks).toEqual([]);
    expect(ingest.speakingNow).toBe(false);
  });

  it("0.5 s burst: nothing", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    const signal = concat(silence(48_000, 1), tone(440, 48_000, 0.5, 0.5), silence(48_000, 1));
    expect(send(ingest, stereoFrames(signal)).chunks).toEqual([]);
  });
});

describe("AudioIngest mode changes and flush", () => {
  it("flush() sends the open utterance of the built-in gate (>= 1 s) when the stream ends mid-speech", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    const { chunks, nowMs } = send(ingest, stereoFrames(concat(silence(48_000, 0.5), tone(440, 48_000, 1.5, 0.5))));
    expect(chunks).toEqual([]);
    expect(ingest.speakingNow).toBe(true);
    const flushed = ingest.flush(nowMs);
    expect(flushed.map((c) => c.pcm.byteLength)).toEqual([96_000]);
    expect(ingest.speakingNow).toBe(false);
    expect(ingest.flush(nowMs)).toEqual([]);
  });

  it("switching to client VAD mid-utterance flushes with a clock and discards without one", () => {
    const loud = stereoFrames(concat(silence(48_000, 0.5), tone(440, 48_000, 1.5, 0.5)));
    const a = new AudioIngest({ intervalMs: 0 });
    const sentA = send(a, loud);
    expect(a.setClientVad(true, sentA.nowMs).length).toBe(1);
    const b = new AudioIngest({ intervalMs: 0 });
    send(b, loud);
    expect(b.setClientVad(true)).toEqual([]);
    expect(b.setClientVad(true, 0)).toEqual([]); // no change, nothing to do
    expect(b.speaking(false, 5_000)).toEqual([]);
  });
});

describe("AudioIngest rejects bad frames", () => {
  it.each([
    ["odd byte length", { trackId: MIC, sampleRate: 48_000, channels: 1, data: new Uint8Array(3) }],
    ["rate 0", { trackId: MIC, sampleRate: 0, channels: 1, data: new Uint8Array(4) }],
    ["5 channels", { trackId: MIC, sampleRate: 48_000, channels: 5, data: new Uint8Array(20) }],
  ])("%s with bad_audio, and keeps working", (_name, frame) => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    expect(() => ingest.pushFrame(frame, 0)).toThrow(AudioError);
    expect(utterance(ingest, 3).length).toBe(1);
  });

  it("limits the number of tracks", () => {
    const ingest = new AudioIngest({ intervalMs: 0, maxTracks: 2 });
    const frame = (trackId: string): AudioFrameInput => ({ trackId, sampleRate: 16_000, channels: 1, data: new Uint8Array(640) });
    ingest.pushFrame(frame("a"), 0);
    ingest.pushFrame(frame("b"), 0);
    expect(() => ingest.pushFrame(frame("c"), 0)).toThrow("too many audio tracks (at most 2 per socket)");
    ingest.forgetTrack("a");
    expect(ingest.pushFrame(frame("c"), 0)).toEqual([]);
  });
});

describe("Tail (the pre-roll kept per track without an allocation per frame)", () => {
  it("always holds the last `keep` samples pushed, whatever the frame lengths (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.integer({ min: 0, max: 150 }), { maxLength: 40 }), (keep, lengths) => {
        const tail = new Tail(keep);
        const all: number[] = [];
        let next = 0;
        for (const n of lengths) {
          const x = Float32Array.from({ length: n }, () => next++);
          tail.push(x);
          all.push(...x);
          const want = all.slice(Math.max(0, all.length - keep));
          expect(tail.length).toBe(want.length);
          expect(Array.from(tail.last(keep))).toEqual(want);
          expect(Array.from(tail.last(3))).toEqual(want.slice(Math.max(0, want.length - 3)));
        }
        tail.clear();
        expect(tail.length).toBe(0);
      }),
    );
  });
});
