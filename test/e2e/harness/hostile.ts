/**
 * Hostile input for the fuzz, flood and CPU measurements (docs/DESIGN.md §5): malformed ClientMessages
 * of every kind from a seeded generator, and the CPU time workerd spends, read from /proc.
 */
import { readdirSync, readFileSync } from "node:fs";
import { deepfake_edge } from "../../../src/gen/ingest.js";

const v1 = deepfake_edge.v1;

/** A small seeded PRNG (mulberry32), so a failing fuzz run can be repeated. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FuzzKind = "random" | "flipped" | "truncated" | "absurd_dimensions" | "bad_audio" | "huge_track_id" | "text" | "oversize";

const encode = (m: deepfake_edge.v1.ClientMessage.$Properties) => v1.ClientMessage.encode(m).finish();

/** Valid messages the mutations start from: a small RGB24 frame, a 20 ms audio frame, a Hello. */
function validSeeds(): Uint8Array[] {
  return [
    encode({ video: { trackId: "cam", width: 16, height: 16, format: v1.PixelFormat.RGB24, source: v1.VideoSource.CAMERA, timestampMs: 1, data: new Uint8Array(16 * 16 * 3) } }),
    encode({ video: { trackId: "cam", width: 8, height: 8, format: v1.PixelFormat.I420, source: v1.VideoSource.CAMERA, timestampMs: 1, data: new Uint8Array(96) } }),
    encode({ audio: { trackId: "mic", sampleRate: 48_000, channels: 1, timestampMs: 1, data: new Uint8Array(1920) } }),
    encode({ hello: { client: "fuzz", vad: true, honorsRate: true } }),
  ];
}

/**
 * The next malformed message: text or bytes, and which kind it is. Every kind is refused by the
 * service with an `error` event; none is valid input. `oversizeBytes` sizes the rare oversize ones.
 */
export function malformedMessage(random: () => number, oversizeBytes: number): { kind: FuzzKind; data: string | Uint8Array } {
  const seeds = validSeeds();
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (max: number) => Math.floor(random() * max);
  const roll = random();
  if (roll < 0.2) {
    const bytes = new Uint8Array(1 + int(512));
    for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
    return { kind: "random", data: bytes };
  }
  if (roll < 0.38) {
    const seed = Uint8Array.from(pick(seeds.slice(0, 3)));
    // Flip bits in the framing (the first bytes): a flip in pixel data would leave a valid frame.
    for (let n = 1 + int(3); n > 0; n--) {
      const at = int(Math.min(seed.length, 12));
      seed[at] = (seed[at] as number) ^ (1 << int(8));
    }
    return { kind: "flipped", data: seed };
  }
  if (roll < 0.52) {
    const seed = pick(seeds.slice(0, 3));
    return { kind: "truncated", data: seed.slice(0, 1 + int(seed.length - 2)) };
  }
  if (roll < 0.66) {
    const [w, h, n] = pick([
      [2_147_483_647, 2, 12],
      [0, 480, 100],
      [100_000, 100_000, 64],
      [640, 480, 640 * 480 * 3 - 1],
      [1, 1, 5],
      [4_000, 4_000, 16],
    ] as const);
    return { kind: "absurd_dimensions", data: encode({ video: { trackId: "cam", width: w, height: h, format: pick([1, 2, 3]), source: 1, timestampMs: 1, data: new Uint8Array(n) } }) };
  }
  if (roll < 0.82) {
    const [rate, channels, n] = pick([
      [44_101, 1, 1764],
      [96_000, 1, 3840],
      [0, 1, 640],
      [16_000, 0, 640],
      [16_000, 3, 1920],
      [48_000, 255, 1020],
      [48_000, 1, 1921],
      [8_000, 1, 8_000 * 2 * 2],
      [4_294_967_295, 2, 4],
    ] as const);
    return { kind: "bad_audio", data: encode({ audio: { trackId: "mic", sampleRate: rate, channels, timestampMs: 1, data: new Uint8Array(n) } }) };
  }
  if (roll < 0.92) {
    const trackId = "t".repeat(129 + int(4_000));
    return { kind: "huge_track_id", data: encode(random() < 0.5 ? { video: { trackId, width: 2, height: 2, format: 2, data: new Uint8Array(16) } } : { audio: { trackId, sampleRate: 16_000, channels: 1, data: new Uint8Array(320) } }) };
  }
  if (roll < 0.9995) return { kind: "text", data: pick(['{"type":"hello"}', "hello", "\u0000\u0001", "x".repeat(int(2_000))]) };
  return { kind: "oversize", data: new Uint8Array(oversizeBytes) };
}

/** The valid Hello a fuzzing socket sends now and then, so its streak of bad messages never reaches the close. */
export const HELLO = encode({ hello: { client: "fuzz-a", vad: false, honorsRate: false } });

/** CPU seconds (user + system) of every workerd process in a process group. */
export function workerdCpuSeconds(pgid: number): number {
  const ticksPerS = 100; // USER_HZ on Linux
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const afterName = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields after the name start at field 3 (state): pgrp is field 5, utime 14, stime 15.
      if (Number(afterName[2]) !== pgid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes("workerd")) continue;
      total += (Number(afterName[11]) + Number(afterName[12])) / ticksPerS;
    } catch {
      // the process went away
    }
  }
  return total;
}

/** Runs `work` and returns the CPU seconds workerd spent per wall-clock second meanwhile. */
export async function cpuPerSecond(pgid: number, work: () => Promise<unknown>): Promise<{ cpuPerS: number; wallS: number }> {
  const cpu0 = workerdCpuSeconds(pgid);
  const t0 = performance.now();
  await work();
  const wallS = (performance.now() - t0) / 1000;
  return { cpuPerS: (workerdCpuSeconds(pgid) - cpu0) / wallS, wallS };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
