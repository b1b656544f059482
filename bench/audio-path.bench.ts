/**
 * The audio message path at the framings real sources use (issue 20): what one audio message costs
 * the object's JavaScript, from the socket's budget to the FrameRequest, for
 *   - 16 kHz mono in 20 ms frames (a client sending each WebRTC frame) and in 100 ms frames (the SDK's
 *     and the Pipecat processor's default, audioBatchMs) [baseline];
 *   - 48 kHz stereo in 20 ms frames, as an AudioFrame ClientMessage and as a Realtime SFU adapter
 *     Packet on an /sfu/audio socket (the adapter's only framing);
 * and its parts: the protobuf decode alone, and the audio chain alone (validate, downmix, resample,
 * voice gate, chunker).
 *
 * Two measures, side by side:
 *   - valgrind --tool=callgrind instructions per message (marginal: two runs of different lengths,
 *     start-up and JIT warm-up cancel out). They do not depend on the machine's load, so they are the
 *     figures to compare across changes on a shared machine.
 *   - process CPU µs per message (median of runs): the same thing in time, load-dependent.
 * Per second of audio, 20 ms frames cost 5 times the per-message overhead of 100 ms frames: the
 * summary prints each 20 ms figure beside its 100 ms baseline.
 */
import "../src/protocol/proto-runtime.js";
import { cloudflare } from "../src/gen/packet.js";
import { AudioIngest } from "../src/media/audio/audio-ingest.js";
import { parseClientMessage } from "../src/protocol/client-messages.js";
import { parseSfuPacket } from "../src/protocol/sfu-packets.js";
import { callgrindChild, instructionsPerIteration, valgrindAvailable } from "./lib/callgrind.js";
import { audioMessage, helloMessage, speechFrames } from "./lib/media.js";
import { asArrayBuffer, benchVars, nodeSession, type NodeSession } from "./lib/node-session.js";
import { SMOKE, median, pick, record, table } from "./harness.js";

const { Packet } = cloudflare.realtime.v1;

/** s16le mono -> the same signal on both channels, interleaved. */
function stereo(mono: Uint8Array): Uint8Array {
  const out = new Uint8Array(mono.length * 2);
  for (let i = 0; i < mono.length; i += 2) {
    out[2 * i] = out[2 * i + 2] = mono[i]!;
    out[2 * i + 1] = out[2 * i + 3] = mono[i + 1]!;
  }
  return out;
}

interface Case {
  key: string;
  name: string;
  /** ms of audio per message (the clock advances by it: audio at real time, within every budget). */
  frameMs: number;
  role: "client" | "sfu-audio";
  messages: ArrayBuffer[];
}

const pcm16x20 = speechFrames(16_000, 20);
const pcm16x100 = speechFrames(16_000, 100);
const pcm48x20 = speechFrames(48_000, 20).map(stereo);
const CASES: Case[] = [
  {
    key: "c16x100",
    name: "16 kHz mono, 100 ms AudioFrame (SDK default) [baseline]",
    frameMs: 100,
    role: "client",
    messages: pcm16x100.map((p) => asArrayBuffer(audioMessage(p, 16_000))),
  },
  {
    key: "c16x20",
    name: "16 kHz mono, 20 ms AudioFrame",
    frameMs: 20,
    role: "client",
    messages: pcm16x20.map((p) => asArrayBuffer(audioMessage(p, 16_000))),
  },
  {
    key: "c48x20",
    name: "48 kHz stereo, 20 ms AudioFrame",
    frameMs: 20,
    role: "client",
    messages: pcm48x20.map((p) => asArrayBuffer(audioMessage(p, 48_000, 2))),
  },
  {
    key: "sfu48x20",
    name: "48 kHz stereo, 20 ms SFU Packet (/sfu/audio)",
    frameMs: 20,
    role: "sfu-audio",
    messages: pcm48x20.map((p, i) =>
      asArrayBuffer(Packet.encode({ sequenceNumber: i, timestamp: i * 960, payload: p }).finish()),
    ),
  },
];

async function session(c: Case): Promise<NodeSession> {
  const s = await nodeSession(`audio-${c.key}`, benchVars(), c.role);
  await s.ready();
  if (c.role === "client") await s.receive(asArrayBuffer(helloMessage()), 0);
  return s;
}

/** A loop of `n` messages of the case (or of one part of its path), continuing from message `from`. */
type Loop = (from: number, n: number) => Promise<void> | void;

async function loopFor(part: string, c: Case): Promise<Loop> {
  const s = await session(c);
  const at = (i: number): number => 1_000 + i * c.frameMs;
  if (part === "receive") {
    return async (from, n) => {
      for (let i = from; i < from + n; i++) await s.receive(c.messages[i % c.messages.length]!, at(i));
    };
  }
  if (part === "parse") {
    return (from, n) => {
      for (let i = from; i < from + n; i++) {
        const m = c.messages[i % c.messages.length]!;
        if (c.role === "client") parseClientMessage(m);
        else parseSfuPacket(m);
      }
    };
  }
  // The audio chain alone: AudioIngest.pushFrame on the frames, as the intake calls it (built-in gate).
  const ingest = new AudioIngest();
  const frames = c.messages.map((m) => {
    const p = parseClientMessage(m);
    if (p.kind !== "audio") throw new Error("not audio");
    return p;
  });
  return (from, n) => {
    for (let i = from; i < from + n; i++) ingest.pushFrame(frames[i % frames.length]!, at(i));
  };
}

const PARTS = ["receive", "parse", "chain"] as const;
const WARMUP = 2_000;

// ---- under valgrind: one case and part, then exit ----------------------------------------------
const child = callgrindChild();
if (child !== null) {
  const [key, part] = child.name.split("/");
  const c = CASES.find((x) => x.key === key)!;
  const loop = await loopFor(part!, c);
  await loop(0, WARMUP);
  await loop(WARMUP, child.iterations);
  process.exit(0);
}

// ---- CPU µs per message -------------------------------------------------------------------------
const RUNS = pick(5, 1);
const ITER = pick(5_000, 200);
const cpu: Record<string, number> = {};
for (const c of CASES) {
  for (const part of PARTS) {
    if (part === "chain" && c.role !== "client") continue;
    const loop = await loopFor(part, c);
    await loop(0, WARMUP);
    const runs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const c0 = process.cpuUsage();
      await loop(WARMUP + r * ITER, ITER);
      const used = process.cpuUsage(c0);
      runs.push((used.user + used.system) / ITER);
    }
    cpu[`${c.key}/${part}`] = median(runs);
  }
}

// ---- instructions per message (callgrind) -------------------------------------------------------
const ir: Record<string, number> = {};
if (!SMOKE && valgrindAvailable()) {
  const jobs: Array<[string, number, number]> = [];
  for (const c of CASES) {
    for (const part of PARTS) {
      if (part === "chain" && c.role !== "client") continue;
      // The protobuf decode alone is cheap: more iterations, so that it stands out of the noise.
      jobs.push(part === "parse" ? [`${c.key}/${part}`, 2_000, 12_000] : [`${c.key}/${part}`, 500, 2_500]);
    }
  }
  // One pair of valgrind runs at a time (two processes): the counts do not depend on the load.
  for (const [name, n1, n2] of jobs) {
    ir[name] = await instructionsPerIteration(import.meta.url, name, n1, n2, 600_000, ["--single-threaded"]);
  }
}

const kIr = (name: string): string => (ir[name] === undefined ? "n/a" : `${(ir[name] / 1000).toFixed(1)} k`);
const us = (name: string): string => (cpu[name] === undefined ? "" : cpu[name].toFixed(1));
table(
  `One audio message through SocketMessages.receive in Node ${process.version}: callgrind instructions ` +
    `(load-independent) and process CPU (median of ${RUNS} runs of ${ITER})`,
  ["message", "receive Ir", "µs", "of which parse Ir", "µs", "audio chain Ir", "µs", "receive Ir per s of audio"],
  CASES.map((c) => [
    c.name,
    kIr(`${c.key}/receive`),
    us(`${c.key}/receive`),
    kIr(`${c.key}/parse`),
    us(`${c.key}/parse`),
    kIr(`${c.key}/chain`),
    us(`${c.key}/chain`),
    ir[`${c.key}/receive`] === undefined ? "" : `${((ir[`${c.key}/receive`]! * 1000) / c.frameMs / 1e6).toFixed(2)} M`,
  ]),
);

const perSecond = (c: Case, table: Record<string, number>): number | undefined => {
  const v = table[`${c.key}/receive`];
  return v === undefined ? undefined : (v * 1000) / c.frameMs;
};
const base = CASES[0]!;
for (const c of CASES.slice(1)) {
  const irs = perSecond(c, ir);
  const irBase = perSecond(base, ir);
  if (irs !== undefined && irBase !== undefined) {
    record({
      bench: "audio-path",
      measure: `${c.name}: instructions per second of audio (callgrind)`,
      value: irs / 1e6,
      unit: "M Ir/s",
      baseline: { label: "16 kHz mono in 100 ms frames", value: irBase / 1e6, unit: "M Ir/s" },
      detail: {
        per_message_ir: ir[`${c.key}/receive`],
        parse_ir: ir[`${c.key}/parse`],
        chain_ir: ir[`${c.key}/chain`],
      },
    });
  }
  record({
    bench: "audio-path",
    measure: `${c.name}: CPU per second of audio (Node)`,
    value: (perSecond(c, cpu)! / 1000),
    unit: "ms/s",
    baseline: { label: "16 kHz mono in 100 ms frames", value: perSecond(base, cpu)! / 1000, unit: "ms/s" },
    detail: {
      per_message_us: cpu[`${c.key}/receive`],
      parse_us: cpu[`${c.key}/parse`],
      chain_us: cpu[`${c.key}/chain`],
    },
  });
}
