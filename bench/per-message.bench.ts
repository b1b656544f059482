/**
 * Per-message overhead of the object's JavaScript path (issue 13: "10 000 messages/s saturate this
 * machine"), in Node with the same modules (bench/lib/node-session.ts):
 *
 *  1. CPU per message for each kind of message a participant sends, and for audio per second of
 *     audio, so 20 ms and 100 ms audio frames compare (the SDK may send either).
 *  2. A profile at the load: 200 participants, each 16 kHz audio in 20 ms frames plus one
 *     640x480 JPEG per second (10 200 messages/s), paced in real time for a few seconds in a child
 *     `node --cpu-prof`. Self time is attributed to source files through the bundle's module
 *     comments and grouped by part of the path: protobuf decode, counters, audio chain, logging, ...
 *
 * What this cannot see is the runtime's own cost per message (hibernation dispatch, WebSocket
 * framing, the copy into an ArrayBuffer): workerd-cost.bench.ts measures that against a real
 * wrangler dev, and attributes it by subtracting the figures measured here.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleLineMap, printSummary, summarise, type CpuProfile } from "./lib/cpuprofile.js";
import { audioMessage, framePixels, helloMessage, speechFrames, videoMessage } from "./lib/media.js";
import { asArrayBuffer, benchVars, nodeSession, type NodeSession } from "./lib/node-session.js";
import { REPO_ROOT } from "../test/e2e/harness/wrangler-dev.js";
import { median, pick, record, table } from "./harness.js";

const PARTICIPANTS = 200;

function audioBuffers(sampleRate: number, frameMs: number, channels = 1): ArrayBuffer[] {
  return speechFrames(sampleRate, frameMs).map((pcm) => {
    if (channels === 1) return asArrayBuffer(audioMessage(pcm, sampleRate));
    const stereo = new Uint8Array(pcm.length * 2);
    for (let i = 0; i < pcm.length; i += 2) stereo.set([pcm[i]!, pcm[i + 1]!, pcm[i]!, pcm[i + 1]!], i * 2);
    return asArrayBuffer(audioMessage(stereo, sampleRate, 2));
  });
}

async function primed(participantId: string): Promise<NodeSession> {
  const s = await nodeSession(participantId, benchVars());
  await s.ready();
  await s.receive(asArrayBuffer(helloMessage()), 0);
  return s;
}

// ---- child: paced load under --cpu-prof ------------------------------------------------------
if (process.env.BENCH_PERMSG_CHILD) {
  const seconds = Number(process.env.BENCH_PERMSG_CHILD);
  const sessions = await Promise.all(Array.from({ length: PARTICIPANTS }, (_, i) => primed(`p${i}`)));
  const audio = audioBuffers(16_000, 20);
  const jpeg = asArrayBuffer(videoMessage({ format: "JPEG", width: 640, height: 480, data: await framePixels("JPEG", 640, 480, 2) }));
  const t0 = Date.now();
  const next = sessions.map((_, i) => ({ audio: t0 + (i / PARTICIPANTS) * 20, video: t0 + (i / PARTICIPANTS) * 1000, k: 0 }));
  let messages = 0;
  let late = 0;
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      for (let i = 0; i < sessions.length; i++) {
        const n = next[i]!;
        while (n.audio <= now) {
          if (now - n.audio > 20) late++;
          void sessions[i]!.receive(audio[n.k++ % audio.length]!, now);
          n.audio += 20;
          messages++;
        }
        while (n.video <= now) {
          void sessions[i]!.receive(jpeg, now);
          n.video += 1000;
          messages++;
        }
      }
      if (now - t0 >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  const cpu = process.cpuUsage(cpu0);
  const counters = sessions[0]!.counters.snapshot();
  console.log(JSON.stringify({ messages, seconds: (Date.now() - t0) / 1000, cpuMs: (cpu.user + cpu.system) / 1000, late, sample: counters }));
  process.exit(0);
}

// ---- 1. CPU per message, by kind ---------------------------------------------------------------
interface Kind {
  name: string;
  messages: ArrayBuffer[];
  /** ms of simulated time between two messages (audio: the frame's duration). */
  stepMs: number;
  /** Audio ms per message, for the per-second figure. */
  audioMs?: number;
}
const rgba = asArrayBuffer(videoMessage({ format: "RGBA", width: 640, height: 480, data: await framePixels("RGBA", 640, 480, 1) }));
const jpeg = asArrayBuffer(videoMessage({ format: "JPEG", width: 640, height: 480, data: await framePixels("JPEG", 640, 480, 2) }));
const kinds: Kind[] = [
  { name: "audio 16 kHz mono, 20 ms frame (640 B)", messages: audioBuffers(16_000, 20), stepMs: 20, audioMs: 20 },
  { name: "audio 16 kHz mono, 100 ms frame (3 200 B)", messages: audioBuffers(16_000, 100), stepMs: 100, audioMs: 100 },
  { name: "audio 48 kHz stereo, 20 ms frame (3 840 B)", messages: audioBuffers(48_000, 20, 2), stepMs: 20, audioMs: 20 },
  { name: "640x480 RGBA frame skipped by the sampler", messages: [rgba], stepMs: 0.001 },
  { name: "640x480 JPEG at 1 fps in CLEAR (4 of 5 skipped)", messages: [jpeg], stepMs: 1_000 },
  { name: "Hello (no change; smallest message)", messages: [asArrayBuffer(helloMessage())], stepMs: 1 },
];
const ITER = pick(20_000, 300);
const RUNS = pick(5, 1);
const rows: Array<Array<string | number>> = [];
const perKind: Record<string, number> = {};
for (const kind of kinds) {
  const s = await primed(`kind-${kind.name}`);
  let now = 1_000;
  const runOnce = async (n: number): Promise<number> => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await s.receive(kind.messages[i % kind.messages.length]!, (now += kind.stepMs));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  await runOnce(Math.min(ITER, 2_000));
  const runs = [];
  for (let r = 0; r < RUNS; r++) runs.push(await runOnce(ITER));
  const us = median(runs);
  perKind[kind.name] = us;
  rows.push([kind.name, us, kind.audioMs ? `${((us * (1000 / kind.audioMs)) / 1000).toFixed(2)} ms per s of audio` : "", kind.audioMs ? `${(1_000_000 / us / (1000 / kind.audioMs)).toFixed(0)} tracks` : `${Math.round(1_000_000 / us).toLocaleString("en-US")} msgs/s`]);
}
table(`CPU per message through SocketMessages.receive in Node ${process.version} (median of ${RUNS} runs of ${ITER.toLocaleString("en-US")})`, ["message", "µs CPU/msg", "audio", "one core's capacity"], rows);
const a20 = perKind[kinds[0]!.name]!;
const a100 = perKind[kinds[1]!.name]!;
record({
  bench: "per-message",
  measure: "16 kHz audio CPU per second of audio, 20 ms frames (Node, real modules)",
  value: (a20 * 50) / 1000,
  unit: "ms/s",
  baseline: { label: "100 ms frames", value: (a100 * 10) / 1000, unit: "ms/s" },
  detail: perKind,
});

// ---- 2. profile at 10 200 messages/s ----------------------------------------------------------
const seconds = pick(8, 1);
const dir = mkdtempSync(join(tmpdir(), "bench-cpuprof-"));
try {
  const bundle = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=250", bundle], {
    env: { ...process.env, BENCH_PERMSG_CHILD: String(seconds) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const line = out.split("\n").reverse().find((l) => l.startsWith("{\"messages\""));
  if (code !== 0 || !line) throw new Error(`profiled child failed (exit ${code}): ${out.slice(-500)}`);
  const stats = JSON.parse(line) as { messages: number; seconds: number; cpuMs: number; late: number };
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error("no .cpuprofile written");
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const lineMap = bundleLineMap(readFileSync(bundle, "utf8"));
  const summary = summarise(profile, { top: 25, fileOf: (url, ln) => (url.endsWith(".bench.mjs") ? lineMap(ln) : null) });
  const rate = stats.messages / stats.seconds;
  console.log(`\nNode harness, ${PARTICIPANTS} participants x (50 audio + 1 JPEG)/s, paced: ${Math.round(rate).toLocaleString("en-US")} msgs/s for ${stats.seconds.toFixed(1)} s, ` +
    `process CPU ${((stats.cpuMs / (stats.seconds * 1000)) * 100).toFixed(0)} % of a core (${((stats.cpuMs * 1000) / stats.messages).toFixed(1)} µs/msg, incl. the load loop), late ticks ${stats.late}`);
  printSummary("profile (node --cpu-prof, 250 µs interval)", summary);
  const keep = join(REPO_ROOT, "bench-profiles");
  mkdirSync(keep, { recursive: true });
  writeFileSync(join(keep, "node-per-message.cpuprofile"), JSON.stringify(profile));
  console.log(`  profile kept in bench-profiles/node-per-message.cpuprofile (open in Chrome DevTools > Performance)`);
  const idle = summary.parts.find((p) => p.key === "idle")?.ms ?? 0;
  const busy = summary.total_ms - idle;
  record({
    bench: "per-message",
    measure: `Node harness at ${Math.round(rate).toLocaleString("en-US")} msgs/s: CPU per message (JS path + load loop)`,
    value: (stats.cpuMs * 1000) / stats.messages,
    unit: "µs",
    detail: { ...stats, parts: summary.parts.map((p) => ({ part: p.key, ms: p.ms, share_of_busy: p.key === "idle" ? null : p.ms / busy })), functions: summary.functions },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
