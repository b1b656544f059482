/**
 * Speech-gated 48000-sample chunks (docs/DESIGN.md §3, §4.4, §11): exact sizes, zero-padding at the end of
 * speech, discarding of short remainders, the minimum interval, and s16le byte layout.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { AudioChunker } from "../../src/media/audio/chunker";
import { AUDIO_CHUNK_BYTES } from "../../src/config/limits";
import { frames, readS16le, tone } from "./audio-signals";

const RATE = 16_000;
const FRAME = 320; // 20 ms at 16 kHz

/** Feeds `seconds` of speech in 20 ms frames starting at startMs; returns chunks and the clock after. */
function speak(chunker: AudioChunker, seconds: number, startMs = 0, signal = tone(440, RATE, seconds, 0.5)): { chunks: Uint8Array[]; nowMs: number } {
  const chunks: Uint8Array[] = [];
  let nowMs = startMs;
  for (const f of frames(signal, FRAME)) {
    nowMs += 20;
    chunks.push(...chunker.push(f, true, nowMs));
  }
  return { chunks, nowMs };
}

describe("AudioChunker", () => {
  it("7 s of continuous speech (interval 0): two full chunks, then the 1 s remainder padded at speech end", () => {
    const chunker = new AudioChunker({ intervalMs: 0 });
    const { chunks, nowMs } = speak(chunker, 7);
    expect(chunks.map((c) => c.byteLength)).toEqual([96_000, 96_000]);
    expect(chunker.bufferedSamples).toBe(16_000);
    const last = chunker.speechEnded(nowMs);
    expect(last.map((c) => c.byteLength)).toEqual([96_000]);
    const samples = readS16le(last[0] as Uint8Array);
    expect(samples.subarray(16_000).every((v) => v === 0)).toBe(true);
    expect(samples.subarray(0, 16_000).some((v) => v !== 0)).toBe(true);
    expect(chunker.bufferedSamples).toBe(0);
  });

  it("chunks carry the audio in order, without gaps or overlap", () => {
    const chunker = new AudioChunker({ intervalMs: 0 });
    const ramp = Float32Array.from({ length: 96_000 }, (_, i) => ((i % 20_000) - 10_000) / 32_768);
    const { chunks } = speak(chunker, 6, 0, ramp);
    const joined = [...readS16le(chunks[0] as Uint8Array), ...readS16le(chunks[1] as Uint8Array)];
    expect(joined).toEqual(Array.from(ramp, (v) => Math.round(v * 32_768)));
  });

  it("1.5 s utterance: one chunk whose last 1.5 s are zeros", () => {
    const chunker = new AudioChunker({ intervalMs: 0 });
    const { chunks, nowMs } = speak(chunker, 1.5);
    expect(chunks).toEqual([]);
    const [chunk, ...rest] = chunker.push(new Float32Array(FRAME), false, nowMs + 20);
    expect(rest).toEqual([]);
    expect(chunk?.byteLength).toBe(96_000);
    const samples = readS16le(chunk as Uint8Array);
    expect(samples.subarray(24_000).every((v) => v === 0)).toBe(true);
    expect(samples.subarray(0, 24_000).some((v) => v !== 0)).toBe(true);
  });

  it("0.5 s utterance: nothing, and the remainder does not leak into the next utterance", () => {
    const chunker = new AudioChunker({ intervalMs: 0 });
    const { nowMs } = speak(chunker, 0.5);
    expect(chunker.speechEnded(nowMs)).toEqual([]);
    expect(chunker.bufferedSamples).toBe(0);
    const next = speak(chunker, 3, nowMs);
    expect(next.chunks.length).toBe(1);
  });

  it("exactly 1 s is flushed; one sample less is not", () => {
    const a = new AudioChunker({ intervalMs: 0 });
    a.push(new Float32Array(16_000).fill(0.1), true, 0);
    expect(a.speechEnded(0).length).toBe(1);
    const b = new AudioChunker({ intervalMs: 0 });
    b.push(new Float32Array(15_999).fill(0.1), true, 0);
    expect(b.speechEnded(0)).toEqual([]);
  });

  it("interval 60 s: only the first chunk within 60 s; speech during the interval is discarded, not buffered", () => {
    const chunker = new AudioChunker({ intervalMs: 60_000 });
    const first = speak(chunker, 7);
    expect(first.chunks.length).toBe(1);
    expect(chunker.lastEmitMs).toBe(3_000);
    expect(chunker.bufferedSamples).toBe(0);
    expect(chunker.speechEnded(first.nowMs)).toEqual([]);
    // More speech up to 62.9 s: still nothing.
    const during = speak(chunker, 55.9, first.nowMs);
    expect(during.chunks).toEqual([]);
    expect(chunker.bufferedSamples).toBe(0);
    // From 63 s on, gathering resumes: 3 s later, the next chunk.
    const after = speak(chunker, 3.2, during.nowMs);
    expect(after.chunks.length).toBe(1);
    expect(chunker.lastEmitMs).toBeGreaterThanOrEqual(63_000);
  });

  it("instances never share a buffer", () => {
    const a = new AudioChunker({ intervalMs: 0 });
    const b = new AudioChunker({ intervalMs: 0 });
    a.push(new Float32Array(40_000).fill(0.2), true, 0);
    expect(b.bufferedSamples).toBe(0);
    expect(b.push(new Float32Array(10_000).fill(0.2), true, 0)).toEqual([]);
    expect(a.bufferedSamples).toBe(40_000);
  });

  it("writes s16le: little-endian, rounded and clamped", () => {
    const chunker = new AudioChunker({ intervalMs: 0 });
    const samples = new Float32Array(48_000);
    samples.set([0.5, -0.5, 1.5, -1.5, 1 / 32_768, 0.6 / 32_768]);
    const [chunk] = chunker.push(samples, true, 0);
    expect(Array.from((chunk as Uint8Array).subarray(0, 12))).toEqual([0x00, 0x40, 0x00, 0xc0, 0xff, 0x7f, 0x00, 0x80, 0x01, 0x00, 0x01, 0x00]);
  });

  it("rejects a negative interval", () => {
    expect(() => new AudioChunker({ intervalMs: -1 })).toThrow(RangeError);
  });

  it("every chunk is exactly 96000 bytes, spaced by the interval, and (interval 0) matches a reference model (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30_000 }), fc.boolean(), fc.boolean()), { maxLength: 40 }),
        fc.constantFrom(0, 1_000, 60_000),
        (steps, intervalMs) => {
          const chunker = new AudioChunker({ intervalMs });
          let nowMs = 0;
          let lastEmit = -Infinity;
          let emitted = 0;
          // Reference model for interval 0: samples buffered, chunks expected.
          let modelBuffered = 0;
          let modelEmitted = 0;
          const modelEnd = (): void => {
            if (modelBuffered >= 16_000) modelEmitted++;
            modelBuffered = 0;
          };
          for (const [count, speaking, end] of steps) {
            nowMs += count / 16;
            const out = [...chunker.push(new Float32Array(count).fill(0.25), speaking, nowMs), ...(end ? chunker.speechEnded(nowMs) : [])];
            if (speaking) {
              modelBuffered += count;
              modelEmitted += Math.floor(modelBuffered / 48_000);
              modelBuffered %= 48_000;
            } else {
              modelEnd();
            }
            if (end) modelEnd();
            for (const chunk of out) {
              expect(chunk.byteLength).toBe(AUDIO_CHUNK_BYTES);
              if (intervalMs > 0) expect(nowMs - lastEmit).toBeGreaterThanOrEqual(intervalMs);
              lastEmit = nowMs;
              emitted++;
            }
            expect(chunker.bufferedSamples).toBeLessThan(48_000);
          }
          if (intervalMs === 0) expect(emitted).toBe(modelEmitted);
          else expect(emitted).toBeLessThanOrEqual(modelEmitted);
        },
      ),
    );
  });
});
