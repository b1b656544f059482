/**
 * Scale through the Cloudflare Realtime SFU adapter's endpoints (issue 20: 100 participants at
 * p99 <= 100 ms), against a real `wrangler dev` in production mode with the fake Dataspike API and a
 * webhook sink, as bench/scale.bench.ts does for the SDK's /stream socket.
 *
 * Each participant has the adapter's two sockets: /sfu/video receiving one 640x480 JPEG Packet per
 * second, and /sfu/audio receiving 48 kHz stereo s16le PCM Packets of 20 ms (50 messages per second,
 * the adapter's only framing; speech-like, so the built-in voice gate opens and the whole audio chain
 * runs). SFU sockets get no JSON events, so each participant also has a /stream socket that only
 * listens, as the application's own UI would: result -> client is measured on it.
 *
 * Baseline in the same run: the same N through /stream with the SDK's default framing (16 kHz mono
 * in 100 ms AudioFrames, one JPEG per second on the same socket).
 *
 * Each participant gets a scripted SUSPICIOUS, the load holds, then ALERT (in rounds for small N, so
 * every step has >= 200 transitions). A step passes when every transition reached its client and the
 * webhook sink, every Packet sent was counted by the object, no socket was closed, there were no
 * errors, and both p99 latencies are <= 100 ms.
 */
import "../src/protocol/proto-runtime.js";
import { cloudflare } from "../src/gen/packet.js";
import { connectUrl, type ParticipantClient } from "../test/e2e/harness/client.js";
import { framePixels, helloMessage, speechFrames, speechMessages, videoMessage } from "./lib/media.js";
import { cpuMeter, cpuShares, startLive, until, waitShares, type LiveStack } from "./lib/live.js";
import { startLoad, type Feed } from "./lib/load.js";
import { distribution, pick, record, sleep, table, type Distribution } from "./harness.js";

const { Packet } = cloudflare.realtime.v1;
const GOAL_P99_MS = 100;
const GOAL_N = 100;
/** Up to twice the goal, stopping at the first failing step. */
const LADDER = pick([100, 150, 200], [2]);
const SPREAD_MS = pick(4_000, 500);
const HOLD_MS = pick(6_000, 1_000);
const TAIL_MS = pick(2_000, 500);
const MIN_TRANSITIONS = pick(200, 4);
const RUN = Date.now().toString(36);

type Path = "sfu" | "stream";
interface StepResult {
  path: Path;
  n: number;
  pass: boolean;
  problems: string[];
  client: Distribution;
  webhook: Distribution;
  messagesPerSecond: number;
  cpu: string;
  wait: string;
}

/** s16le mono -> the same samples on both channels (what the adapter's stereo PCM carries). */
function stereo(mono: Uint8Array): Uint8Array {
  const out = new Uint8Array(mono.length * 2);
  for (let i = 0; i < mono.length; i += 2) {
    out[2 * i] = out[2 * i + 2] = mono[i]!;
    out[2 * i + 1] = out[2 * i + 3] = mono[i + 1]!;
  }
  return out;
}

const packet = (payload: Uint8Array, i: number, step: number): Uint8Array =>
  Packet.encode({ sequenceNumber: i, timestamp: i * step, payload }).finish();

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

async function step(path: Path, n: number, jpeg: Uint8Array): Promise<StepResult> {
  const stack: LiveStack = await startLive({ webhooks: true });
  const problems: string[] = [];
  try {
    const pids = Array.from({ length: n }, (_, i) => `sfu-scale-${path}-${n}-${i}-${RUN}`);
    const listeners: ParticipantClient[] = await inBatches(pids, 25, (pid) => stack.connect(pid));
    for (const c of listeners) c.sendRaw(helloMessage("bench-sfu-scale"));
    const feeds: Feed[] = [];
    const feeders: ParticipantClient[] = [];
    let audioMs: number;
    if (path === "sfu") {
      audioMs = 20;
      const audio = speechFrames(48_000, 20).map((pcm, i) => packet(stereo(pcm), i, 960));
      const video = packet(jpeg, 0, 90_000);
      const ws = stack.url.replace(/^http/, "ws");
      await inBatches(pids, 25, async (pid) => {
        const token = encodeURIComponent(await stack.token(pid));
        const base = `${ws}/v1/participants/${encodeURIComponent(pid)}/sfu`;
        // No permessage-deflate, as for the /stream sockets (stack.connect): compressing 5 000 PCM
        // Packets a second would make the load generator the bottleneck.
        const plain = { perMessageDeflate: false };
        const [v, a] = await Promise.all([
          connectUrl(`${base}/video?token=${token}`, {}, plain),
          connectUrl(`${base}/audio?token=${token}`, {}, plain),
        ]);
        feeders.push(v, a);
        feeds.push({ participantId: `${pid}#video`, client: v, video, audio: [] });
        feeds.push({ participantId: `${pid}#audio`, client: a, video: null, audio });
      });
    } else {
      audioMs = 100;
      const video = videoMessage({ format: "JPEG", width: 640, height: 480, data: jpeg });
      const audio = speechMessages(16_000, 100);
      listeners.forEach((client, i) => feeds.push({ participantId: `${pids[i]}#stream`, client, video, audio }));
    }
    const load = startLoad(feeds, { audioMs, videoMs: 1_000, audioStartSpreadMs: 3_000 });
    if (!(await until(() => pids.every((pid) => stack.fake.knows(pid)), 60_000, 50))) {
      problems.push(`${pids.filter((pid) => !stack.fake.knows(pid)).length} participants never reached the upstream`);
    }
    const cpu = cpuMeter(stack);
    const sentAt = new Map<string, number>();
    const script = async (type: "SUSPICIOUS" | "ALERT", round: number): Promise<void> => {
      const t = Date.now();
      for (let i = 0; i < n; i++) {
        const due = t + (i * SPREAD_MS) / n;
        if (due > Date.now()) await sleep(due - Date.now());
        const tag = `${type}-${round}-${pids[i]}`;
        sentAt.set(tag, Date.now());
        if (!stack.fake.sendResultTo(type, pids[i]!, "camera", tag)) problems.push(`no upstream socket for ${pids[i]}`);
      }
    };
    const rounds = Math.min(4, Math.ceil(MIN_TRANSITIONS / (2 * n)));
    for (let round = 0; round < rounds; round++) {
      await script("SUSPICIOUS", round);
      await sleep(HOLD_MS);
      await script("ALERT", round);
      await sleep(TAIL_MS);
    }
    const sent = load.stop();
    const used = cpu.read();
    const tags = [...sentAt.keys()];
    const seenClient = new Map<string, number>();
    const seenHook = new Map<string, number>();
    const collect = (): boolean => {
      for (const c of listeners) {
        for (const e of c.events) {
          const { type, message } = e.event;
          if (type === "deepfake_alert" && typeof message === "string") seenClient.set(message, e.atMs);
        }
      }
      for (const d of stack.sink!.deliveries) {
        if (!d.verified) continue;
        const message = (JSON.parse(d.body) as { message?: string }).message;
        if (message !== undefined && !seenHook.has(message)) seenHook.set(message, d.atMs);
      }
      return tags.every((t) => seenClient.has(t) && seenHook.has(t));
    };
    await until(collect, 20_000, 100);
    await sleep(500);
    const snaps = await inBatches(pids, 20, (pid) => stack.snapshot(pid));
    const clientMs = tags.filter((t) => seenClient.has(t)).map((t) => seenClient.get(t)! - sentAt.get(t)!);
    const hookMs = tags.filter((t) => seenHook.has(t)).map((t) => seenHook.get(t)! - sentAt.get(t)!);
    const lostClient = tags.length - clientMs.length;
    const lostHook = tags.length - hookMs.length;
    if (lostClient > 0) problems.push(`${lostClient} transitions never reached the client`);
    if (lostHook > 0) problems.push(`${lostHook} transitions never reached the webhook sink`);
    let mismatched = 0;
    const bad = { bad_messages: 0, rate_limited: 0, dropped_by_queue: 0, frames_busy: 0 };
    snaps.forEach((s, i) => {
      const pid = pids[i]!;
      const video = sent.perFeed.get(`${pid}#${path === "sfu" ? "video" : "stream"}`)!.video;
      const audio = sent.perFeed.get(`${pid}#${path === "sfu" ? "audio" : "stream"}`)!.audio;
      if (s.counters.frames_received !== video || s.counters.audio_frames_received !== audio) mismatched++;
      for (const k of Object.keys(bad) as Array<keyof typeof bad>) bad[k] += s.counters[k] ?? 0;
    });
    if (mismatched > 0) problems.push(`${mismatched} participants: media counted != media sent`);
    for (const [k, v] of Object.entries(bad)) if (v > 0) problems.push(`${k} = ${v}`);
    const closed = [...listeners, ...feeders].filter((c) => c.closed !== null).length;
    if (closed > 0) problems.push(`${closed} sockets closed by the service`);
    const errors = listeners.reduce((k, c) => k + c.ofType("error").length + c.ofType("upstream_error").length, 0);
    if (errors > 0) problems.push(`${errors} error events`);
    if (sent.notOpen > 0) problems.push(`${sent.notOpen} sends found the socket closed`);
    const client = distribution(clientMs);
    const webhook = distribution(hookMs);
    if (!(client.p99 <= GOAL_P99_MS)) problems.push(`client p99 ${client.p99} ms > ${GOAL_P99_MS} ms`);
    if (!(webhook.p99 <= GOAL_P99_MS)) problems.push(`webhook p99 ${webhook.p99} ms > ${GOAL_P99_MS} ms`);
    await Promise.all([...listeners, ...feeders].map((c) => c.close()));
    return {
      path,
      n,
      pass: problems.length === 0,
      problems,
      client,
      webhook,
      messagesPerSecond: sent.messages / sent.seconds,
      cpu: cpuShares(used),
      wait: waitShares(used),
    };
  } finally {
    await stack.stop();
  }
}

const jpeg = await framePixels("JPEG", 640, 480, 5);
const results: StepResult[] = [];
for (const n of LADDER) {
  const sfu = await step("sfu", n, jpeg);
  const stream = await step("stream", n, jpeg);
  results.push(sfu, stream);
  for (const r of [sfu, stream]) {
    console.log(`  ${r.path} N=${n}: ${r.pass ? "pass" : `FAIL: ${r.problems.slice(0, 4).join("; ")}`}`);
  }
  if (!sfu.pass) break;
}
table(
  "SFU adapter endpoints (/sfu/video JPEG 1 fps + /sfu/audio 48 kHz stereo 20 ms) vs /stream with the SDK's framing " +
    "(latency in ms)",
  [
    "path, N",
    "transitions",
    "msgs/s",
    "client p50",
    "client p99",
    "webhook p50",
    "webhook p99",
    "CPU",
    "waiting",
    "result",
  ],
  results.map((r) => [
    `${r.path === "sfu" ? "SFU endpoints" : "/stream, SDK framing [baseline]"}, ${r.n}`,
    r.client.n,
    Math.round(r.messagesPerSecond),
    r.client.p50,
    r.client.p99,
    r.webhook.p50,
    r.webhook.p99,
    r.cpu,
    r.wait,
    r.pass ? "pass" : `FAIL (${r.problems.length})`,
  ]),
);
for (const r of results.filter((x) => x.path === "sfu")) {
  const base = results.find((x) => x.path === "stream" && x.n === r.n);
  record({
    bench: "sfu-scale",
    measure: `SFU endpoints, N=${r.n}: result -> client / webhook p99`,
    value: `${r.client.p99} / ${r.webhook.p99} ms${r.pass ? "" : ` (${r.problems.slice(0, 2).join("; ")})`}`,
    baseline: base
      ? { label: "/stream, SDK framing", value: `${base.client.p99} / ${base.webhook.p99} ms` }
      : undefined,
    goal: r.n === GOAL_N ? `<= ${GOAL_P99_MS} ms, nothing lost` : undefined,
    met: r.n === GOAL_N ? r.pass : undefined,
    detail: { sfu: r, baseline: base },
  });
}
