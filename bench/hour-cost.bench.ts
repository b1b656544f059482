/**
 * What one participant-hour costs on Cloudflare (issue 20), derived from figures measured against a
 * real `wrangler dev` in production mode with the fake Dataspike API:
 *   - messages received per hour (billed as Durable Object requests at the documented 20:1 ratio),
 *     and FrameRequests sent upstream (outgoing messages are not billed; shown for scale);
 *   - CPU time per hour of the runtime workerd (idle CPU subtracted);
 *   - rows written to SQLite per hour: counter rows (one per counter that changed, flushed every
 *     COUNTERS_FLUSH_MS; sampled from snapshots at that period) and track-activity rows (a track with
 *     a level persists its activity every TRACK_ACTIVITY_PERSIST_MS while frames go upstream);
 *   - the time the object is active: the whole hour, since an open outgoing WebSocket (the upstream)
 *     keeps a Durable Object in memory and billed for duration.
 * for two framings, each in CLEAR and in SUSPICIOUS:
 *   - the SDK's defaults on /stream: 16 kHz mono audio in 100 ms messages, sent only while the
 *     service wants speech (the `audio` hint: the SDK drops audio in the pause after a chunk), video at
 *     the rate the service announces (`rate` events; the SDK honours them);
 *   - the Realtime SFU adapter: /sfu/audio 48 kHz stereo in 20 ms Packets, always, and /sfu/video
 *     JPEG at 1 fps, whatever the level (the adapter cannot be told).
 * Prices (bench/lib/prices.ts) are Cloudflare's published Workers Paid prices; included allowances and
 * the monthly minimum are left out (the marginal cost of one more participant-hour).
 */
import "../src/protocol/proto-runtime.js";
import { cloudflare } from "../src/gen/packet.js";
import { deepfake_edge } from "../src/gen/ingest.js";
import { COUNTERS_FLUSH_MS, TRACK_ACTIVITY_PERSIST_MS } from "../src/config/limits.js";
import { connectUrl, type ParticipantClient } from "../test/e2e/harness/client.js";
import { framePixels, speechFrames, speechMessages, videoMessage } from "./lib/media.js";
import { cpuMeter, startLive, until, type LiveStack, type Snapshot } from "./lib/live.js";
import { PRICES, participantHourCost, type HourUsage } from "./lib/prices.js";
import { pick, record, sleep, table } from "./harness.js";

const { Packet } = cloudflare.realtime.v1;
const N = pick(10, 2);
/** One phase: a little over one audio cycle (a 3 s chunk gathered, then the 60 s pause). */
const PHASE_MS = pick(70_000, 6_000);
const RUN = Date.now().toString(36);
type Framing = "sdk" | "sfu";
type Level = "CLEAR" | "SUSPICIOUS";

function stereo(mono: Uint8Array): Uint8Array {
  const out = new Uint8Array(mono.length * 2);
  for (let i = 0; i < mono.length; i += 2) {
    out[2 * i] = out[2 * i + 2] = mono[i]!;
    out[2 * i + 1] = out[2 * i + 3] = mono[i + 1]!;
  }
  return out;
}

interface Sender {
  stop(): void;
}

/** The SDK's behaviour on one /stream socket: audio every 100 ms while wanted, video at the announced rate. */
function sdkSender(
  client: ParticipantClient,
  audio: readonly Uint8Array[],
  video: Uint8Array,
  offsetMs: number,
): Sender {
  let k = 0;
  let nextAudio = Date.now() + offsetMs;
  let nextVideo = Date.now() + offsetMs;
  const latest = (type: string): Record<string, unknown> | undefined => {
    for (let i = client.events.length - 1; i >= 0; i--) {
      if (client.events[i]!.event.type === type) return client.events[i]!.event;
    }
    return undefined;
  };
  const timer = setInterval(() => {
    const now = Date.now();
    if (!client.isOpen) return;
    while (nextAudio <= now) {
      const hint = latest("audio");
      const wanted = hint === undefined || hint.wanted === true || Number(hint.until_ms) <= now;
      if (wanted) client.sendRaw(audio[k++ % audio.length]!);
      nextAudio += 100;
    }
    const fps = Number(latest("rate")?.video_fps ?? 0.2);
    if (fps > 0) {
      while (nextVideo <= now) {
        client.sendRaw(video);
        nextVideo += 1000 / fps;
      }
    } else nextVideo = now;
  }, 5);
  return { stop: () => clearInterval(timer) };
}

/** The SFU adapter: audio Packets every 20 ms and a JPEG Packet every second, whatever the level. */
function sfuSender(
  video: ParticipantClient,
  audio: ParticipantClient,
  audioPackets: readonly Uint8Array[],
  jpeg: Uint8Array,
  offsetMs: number,
): Sender {
  let k = 0;
  let nextAudio = Date.now() + offsetMs;
  let nextVideo = Date.now() + offsetMs * 50;
  const timer = setInterval(() => {
    const now = Date.now();
    while (nextAudio <= now) {
      if (audio.isOpen) audio.sendRaw(audioPackets[k++ % audioPackets.length]!);
      nextAudio += 20;
    }
    while (nextVideo <= now) {
      if (video.isOpen) video.sendRaw(jpeg);
      nextVideo += 1000;
    }
  }, 5);
  return { stop: () => clearInterval(timer) };
}

interface PhaseFigures {
  seconds: number;
  received: number;
  upstream: number;
  cpuMs: number;
  counterRowsPerFlush: number;
  closed: number;
  reconnects: number;
}

const sum = (snaps: Snapshot[], name: keyof Snapshot["counters"]): number =>
  snaps.reduce((n, s) => n + (s.counters[name] ?? 0), 0);

async function phase(
  stack: LiveStack,
  pids: string[],
  idleCpuPerMs: number,
  sockets: ParticipantClient[],
): Promise<PhaseFigures> {
  const before = await Promise.all(pids.map((pid) => stack.snapshot(pid)));
  const meter = cpuMeter(stack);
  const t0 = Date.now();
  // Counters that changed in each flush period of one participant: the rows its flush writes.
  const changedPerFlush: number[] = [];
  let last = before[0]!.counters;
  while (Date.now() - t0 < PHASE_MS) {
    await sleep(Math.min(COUNTERS_FLUSH_MS, PHASE_MS - (Date.now() - t0)));
    const now = (await stack.snapshot(pids[0]!)).counters;
    const names = Object.keys(now) as Array<keyof typeof now>;
    changedPerFlush.push(names.filter((k) => now[k] !== last[k]).length);
    last = now;
  }
  const used = meter.read();
  const after = await Promise.all(pids.map((pid) => stack.snapshot(pid)));
  const delta = (name: keyof Snapshot["counters"]): number => sum(after, name) - sum(before, name);
  return {
    seconds: used.wallMs / 1000,
    received: delta("messages_received"),
    upstream: delta("messages_sent"),
    cpuMs: Math.max(0, used.runtimeMs - idleCpuPerMs * used.wallMs),
    counterRowsPerFlush: changedPerFlush.reduce((a, b) => a + b, 0) / Math.max(1, changedPerFlush.length),
    closed: sockets.filter((c) => c.closed !== null).length,
    reconnects: delta("upstream_connects"),
  };
}

async function measure(framing: Framing, jpeg: Uint8Array): Promise<Record<Level, PhaseFigures>> {
  const stack = await startLive({});
  try {
    const idle = cpuMeter(stack);
    await sleep(pick(5_000, 1_000));
    const idleUse = idle.read();
    const idleCpuPerMs = idleUse.runtimeMs / idleUse.wallMs;
    const pids = Array.from({ length: N }, (_, i) => `cost-${framing}-${i}-${RUN}`);
    const senders: Sender[] = [];
    const sockets: ParticipantClient[] = [];
    const spread = (i: number): number => Math.round((i / N) * (framing === "sdk" ? 100 : 20));
    if (framing === "sdk") {
      const hello = deepfake_edge.v1.ClientMessage.encode({
        hello: { client: "bench-cost", vad: false, honorsRate: true },
      }).finish();
      const audio = speechMessages(16_000, 100);
      const video = videoMessage({ format: "JPEG", width: 640, height: 480, data: jpeg });
      for (const [i, pid] of pids.entries()) {
        const c = await stack.connect(pid);
        c.sendRaw(hello);
        sockets.push(c);
        senders.push(sdkSender(c, audio, video, spread(i)));
      }
    } else {
      const audio = speechFrames(48_000, 20).map((pcm, i) =>
        Packet.encode({ sequenceNumber: i, timestamp: i * 960, payload: stereo(pcm) }).finish(),
      );
      const video = Packet.encode({ sequenceNumber: 0, timestamp: 0, payload: jpeg }).finish();
      const ws = stack.url.replace(/^http/, "ws");
      for (const [i, pid] of pids.entries()) {
        const token = encodeURIComponent(await stack.token(pid));
        const base = `${ws}/v1/participants/${encodeURIComponent(pid)}/sfu`;
        const v = await connectUrl(`${base}/video?token=${token}`, {}, { perMessageDeflate: false });
        const a = await connectUrl(`${base}/audio?token=${token}`, {}, { perMessageDeflate: false });
        sockets.push(v, a);
        senders.push(sfuSender(v, a, audio, video, spread(i)));
      }
    }
    if (!(await until(() => pids.every((pid) => stack.fake.knows(pid)), 30_000, 50))) {
      throw new Error(`${framing}: not every participant reached the upstream`);
    }
    // Dataspike answers every frame with a result: so does the fake, at the phase's level.
    stack.fake.setAutoRespond("CLEAR");
    const clear = await phase(stack, pids, idleCpuPerMs, sockets);
    stack.fake.setAutoRespond("SUSPICIOUS");
    const track = framing === "sdk" ? "camera" : "sfu-video";
    const missed = pids.filter((pid) => !stack.fake.sendResultTo("SUSPICIOUS", pid, track, `cost-${pid}`));
    if (missed.length > 0) throw new Error(`${framing}: no upstream socket for ${missed.length} participants`);
    await sleep(2_000);
    const suspicious = await phase(stack, pids, idleCpuPerMs, sockets);
    const levels = await Promise.all(pids.map((pid) => stack.snapshot(pid)));
    const notSuspicious = levels.filter((s) => s.level !== "suspicious").length;
    if (notSuspicious > 0) {
      console.log(`  (${framing}: ${notSuspicious} participants were not SUSPICIOUS at the end of that phase)`);
    }
    for (const s of senders) s.stop();
    await Promise.all(sockets.map((c) => c.close()));
    return { CLEAR: clear, SUSPICIOUS: suspicious };
  } finally {
    await stack.stop();
  }
}

const jpeg = await framePixels("JPEG", 640, 480, 5);
const rows: Array<Array<string | number>> = [];
for (const framing of ["sdk", "sfu"] as const) {
  const figures = await measure(framing, jpeg);
  for (const level of ["CLEAR", "SUSPICIOUS"] as const) {
    const f = figures[level];
    const perHour = (x: number): number => (x / N / f.seconds) * 3600;
    const usage: HourUsage = {
      sockets: framing === "sdk" ? 1 : 2,
      messagesReceived: perHour(f.received),
      cpuMs: perHour(f.cpuMs),
      activeSeconds: 3600,
      rowsWritten:
        (3600_000 / COUNTERS_FLUSH_MS) * f.counterRowsPerFlush +
        (level === "SUSPICIOUS" ? 3600_000 / TRACK_ACTIVITY_PERSIST_MS : 0),
    };
    const cost = participantHourCost(usage);
    const label = framing === "sdk" ? "SDK defaults (/stream)" : "SFU adapter (/sfu/*)";
    rows.push([
      `${label}, ${level}`,
      Math.round(usage.messagesReceived),
      Math.round(perHour(f.upstream)),
      `${(usage.cpuMs / 1000).toFixed(1)} s`,
      Math.round(usage.rowsWritten),
      `$${cost.requests.toFixed(5)}`,
      `$${cost.duration.toFixed(5)}`,
      `$${cost.rows.toFixed(5)}`,
      `$${cost.total.toFixed(5)}`,
      [f.closed > 0 ? `${f.closed} sockets closed` : "", f.reconnects > 0 ? `${f.reconnects} upstream reconnects` : ""]
        .filter(Boolean)
        .join(", "),
    ]);
    record({
      bench: "hour-cost",
      measure: `one participant-hour, ${label}, ${level}`,
      value: cost.total,
      unit: "USD",
      baseline: { label: "duration alone (object active all hour)", value: cost.duration, unit: "USD" },
      detail: { usage, cost, measured: f, participants: N, prices: PRICES },
    });
  }
}
table(
  `One participant-hour on Cloudflare's published prices (${N} participants measured for ${PHASE_MS / 1000} s ` +
    `per level; ` +
    `allowances and the plan's minimum left out)`,
  [
    "framing, level",
    "msgs in/h",
    "FrameRequests/h",
    "CPU/h",
    "rows written/h",
    "requests",
    "duration",
    "rows",
    "total",
    "",
  ],
  rows,
);
console.log(
  `  prices (${PRICES.readOn}): DO requests $${PRICES.doRequestsPerMillion}/M (incoming WebSocket messages at ` +
    `${PRICES.wsMessagesPerRequest}:1), duration $${PRICES.doGbSecondsPerMillion}/M GB-s at ${PRICES.doMemoryGb} GB, ` +
    `SQLite rows written $${PRICES.rowsWrittenPerMillion}/M, Workers requests $${PRICES.workerRequestsPerMillion}/M ` +
    `(one per socket's upgrade); Durable Object CPU is not billed by the ms ` +
    `(Workers CPU $${PRICES.workersCpuMsPerMillion}/M ms ` +
    `applies to the Worker's upgrade request only)`,
);
