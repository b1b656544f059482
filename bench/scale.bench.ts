/**
 * Scale (issue 13: >= 200 participants at 1 fps JPEG + audio, >= 100 at 1 fps raw I420 640x480 +
 * audio in SUSPICIOUS, each with p99 event latency <= 100 ms, nothing lost, no errors), through a
 * real `wrangler dev` in production mode with the fake Dataspike API and a webhook sink.
 *
 * Each participant has one socket sending 16 kHz mono audio (speech-like, so the built-in voice gate
 * opens and the whole audio chain runs) and one 640x480 video frame per second (a JPEG, or raw I420
 * that the object encodes). Audio comes in two framings: 20 ms frames (50 messages/s, a client that
 * sends each WebRTC frame as it comes) and 100 ms frames (10 messages/s, what the SDK sends by
 * default, audioBatchMs). The runtime's cost is mostly per message, so the framing sets the ceiling.
 * Participants start speaking spread over 3 s, as in a call, rather than all in one instant. Once every participant's first
 * frame has reached the fake upstream, each gets a scripted SUSPICIOUS result (spread over a few
 * seconds; at 1 fps burst the I420 objects then encode every frame), the load holds, then each gets
 * ALERT; small N repeat this in rounds so that every step has >= 200 transitions. Latency is measured
 * per transition from the fake upstream's send to the client event and to webhook receipt.
 *
 * A step passes when nothing is lost (every transition reached its client and the webhook sink; every
 * message sent was counted by the object; every FrameRequest the object sent reached the upstream;
 * no queue drops, busy drops or bad messages), there are no errors (no error events, closes, or
 * reconnects) and both p99 latencies are <= 100 ms. The coarse search goes up a ladder of N and stops
 * at the first failing step. The runtime workerd's RSS is read from /proc.
 */
import { framePixels, helloMessage, speechMessages, videoMessage, type PixelFormatName } from "./lib/media.js";
import { MB, cpuMeter, cpuShares, loopDelay, rssSampler, startLive, until, waitShares, type LiveStack, type Snapshot } from "./lib/live.js";
import { startLoad, type Feed } from "./lib/load.js";
import { SMOKE, distribution, pick, record, sleep, table, type Distribution } from "./harness.js";
import type { ParticipantClient } from "../test/e2e/harness/client.js";
import { connectInspector, startProfile } from "./lib/inspector.js";
import { timeline } from "./lib/cpuprofile.js";

const GOAL_P99_MS = 100;
const PROFILE_INTERVAL_US = 500;
interface Series {
  format: "JPEG" | "I420";
  audioMs: 20 | 100;
  /** N to try, going up until a step fails (if the first fails, N is halved instead). */
  ladder: number[];
}
const SERIES: Series[] = [
  { format: "JPEG", audioMs: 20, ladder: pick([100, 150, 200], [2]) },
  { format: "JPEG", audioMs: 100, ladder: pick([200, 300, 400], [2]) },
  { format: "I420", audioMs: 20, ladder: pick([50, 100, 150], [2]) },
  { format: "I420", audioMs: 100, ladder: pick([100, 150, 200], [2]) },
];
const GOALS = { JPEG: 200, I420: 100 };
/** Below the ladder's first rung, N is halved down to this. */
const MIN_N = 5;
const SPREAD_MS = pick(4_000, 500);
/** Participants start speaking over one chunk length (3 s), not all in the same instant. */
const AUDIO_START_SPREAD_MS = 3_000;
const HOLD_MS = pick(6_000, 1_000);
const TAIL_MS = pick(2_000, 500);
/** Each participant goes SUSPICIOUS then ALERT once per round; small N get more rounds. */
const MIN_TRANSITIONS = pick(200, 4);
const MAX_ROUNDS = 4;
/** The whole scale benchmark stops climbing once it has run this long. */
const BUDGET_MS = pick(20 * 60_000, 3 * 60_000);
const RUN = Date.now().toString(36);

interface StepResult {
  format: "JPEG" | "I420";
  audioMs: number;
  n: number;
  pass: boolean;
  problems: string[];
  client: Distribution;
  webhook: Distribution;
  messagesPerSecond: number;
  rssMiB: number;
  cpu: string;
  wait: string;
  loopP99Ms: number;
  loopMaxMs: number;
  /** The slowest client events: when their result was sent (s into the step) and their latency. */
  slowest: Array<{ atS: number; ms: number }>;
  detail: Record<string, unknown>;
}

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

async function step(
  format: "JPEG" | "I420",
  audioMs: number,
  n: number,
  video: Uint8Array,
  audio: readonly Uint8Array[],
  storage: "memory" | "disk" = "memory",
): Promise<StepResult> {
  const stack: LiveStack = await startLive({ webhooks: true, storage });
  const problems: string[] = [];
  try {
    const pids = Array.from({ length: n }, (_, i) => `scale-${format.toLowerCase()}-${audioMs}-${n}-${i}-${RUN}`);
    const clients: ParticipantClient[] = await inBatches(pids, 25, (pid) => stack.connect(pid));
    for (const c of clients) c.sendRaw(helloMessage("bench-scale"));
    const feeds: Feed[] = pids.map((participantId, i) => ({ participantId, client: clients[i]!, video, audio }));
    const load = startLoad(feeds, { audioMs, videoMs: 1_000, audioStartSpreadMs: AUDIO_START_SPREAD_MS });
    if (!(await until(() => pids.every((pid) => stack.fake.knows(pid)), 60_000, 50))) {
      problems.push(`${pids.filter((pid) => !stack.fake.knows(pid)).length} participants never reached the upstream`);
    }
    // BENCH_SCALE_PROFILE=1: what the isolate did around the slowest event (busy, or waiting?).
    const inspector = process.env.BENCH_SCALE_PROFILE ? await connectInspector(stack.dev.inspectorPort) : null;
    const profiling = inspector ? await startProfile(inspector, PROFILE_INTERVAL_US) : null;
    const profileWallStart = Date.now();
    const cpu = cpuMeter(stack);
    const rss = rssSampler(stack);
    const lag = loopDelay();
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
    // Enough rounds for >= MIN_TRANSITIONS latency samples, so p99 is not just the maximum.
    const rounds = Math.min(MAX_ROUNDS, Math.ceil(MIN_TRANSITIONS / (2 * n)));
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
      for (const c of clients) for (const e of c.events) if (e.event.type === "deepfake_alert" && typeof e.event.message === "string") seenClient.set(e.event.message, e.atMs);
      for (const d of stack.sink!.deliveries) {
        if (!d.verified) continue;
        const message = (JSON.parse(d.body) as { message?: string }).message;
        if (message !== undefined && !seenHook.has(message)) seenHook.set(message, d.atMs);
      }
      return tags.every((t) => seenClient.has(t) && seenHook.has(t));
    };
    await until(collect, 20_000, 100);
    const loop = lag.stop();
    const peakRss = rss.stop();
    await sleep(500); // the last FrameRequests reach the fake upstream
    const snaps: Snapshot[] = await inBatches(pids, 20, (pid) => stack.snapshot(pid));

    const clientMs = tags.filter((t) => seenClient.has(t)).map((t) => seenClient.get(t)! - sentAt.get(t)!);
    // When the slowest ones were sent (s after the first result): one stall, or slow throughout?
    const t0 = Math.min(...sentAt.values());
    const slowest = tags
      .filter((t) => seenClient.has(t))
      .map((t) => ({ atS: Number(((sentAt.get(t)! - t0) / 1000).toFixed(2)), ms: seenClient.get(t)! - sentAt.get(t)! }))
      .sort((x, y) => y.ms - x.ms)
      .slice(0, 8);
    if (profiling) {
      const { profile } = await profiling.stop();
      inspector!.close();
      const worst = slowest[0];
      if (worst) {
        const at = t0 + worst.atS * 1000;
        console.log(`  the isolate from 1 s before the slowest result (sent ${worst.atS} s in, ${worst.ms} ms to its client), ` +
          `${PROFILE_INTERVAL_US} µs samples (${(50_000 / PROFILE_INTERVAL_US).toFixed(0)} in 50 ms = busy throughout):`);
        for (const line of timeline(profile, profileWallStart, at - 1000, at + worst.ms + 500)) console.log(`    ${line}`);
      }
    }
    const hookMs = tags.filter((t) => seenHook.has(t)).map((t) => seenHook.get(t)! - sentAt.get(t)!);
    const missingClient = tags.length - clientMs.length;
    const missingHook = tags.length - hookMs.length;
    if (missingClient > 0) problems.push(`${missingClient} transitions never reached the client`);
    if (missingHook > 0) problems.push(`${missingHook} transitions never reached the webhook sink`);
    const upstreamByPid = new Map<string, number>();
    for (const f of stack.fake.frames) upstreamByPid.set(f.participantId, (upstreamByPid.get(f.participantId) ?? 0) + 1);
    const totals = { frames_received: 0, audio_frames_received: 0, frames_sampled: 0, audio_chunks_sent: 0, messages_sent: 0, upstream_frames: 0, dropped_by_queue: 0, dropped_stale: 0, frames_busy: 0, bad_messages: 0, upstream_connects: 0, storage_errors: 0 };
    const mismatch = { video: 0, audio: 0, upstream: 0 };
    snaps.forEach((s, i) => {
      const pid = pids[i]!;
      const c = s.counters;
      const mine = sent.perFeed.get(pid)!;
      for (const k of Object.keys(totals) as Array<keyof typeof totals>) if (k !== "upstream_frames") totals[k] += c[k] ?? 0;
      totals.upstream_frames += upstreamByPid.get(pid) ?? 0;
      if (c.frames_received !== mine.video) mismatch.video++;
      if (c.audio_frames_received !== mine.audio) mismatch.audio++;
      if (c.messages_sent !== (upstreamByPid.get(pid) ?? 0)) mismatch.upstream++;
    });
    if (mismatch.video > 0) problems.push(`${mismatch.video} participants: frames_received != video frames sent`);
    if (mismatch.audio > 0) problems.push(`${mismatch.audio} participants: audio_frames_received != audio frames sent`);
    if (mismatch.upstream > 0) problems.push(`${mismatch.upstream} participants: FrameRequests sent != received by the upstream`);
    for (const k of ["dropped_by_queue", "dropped_stale", "frames_busy", "bad_messages", "storage_errors"] as const) if (totals[k] > 0) problems.push(`${k} = ${totals[k]}`);
    if (totals.upstream_connects > n) problems.push(`${totals.upstream_connects - n} upstream reconnects`);
    const errorEvents = clients.reduce((k, c) => k + c.ofType("error").length + c.ofType("upstream_error").length, 0);
    const closed = clients.filter((c) => c.closed !== null).length;
    if (errorEvents > 0) problems.push(`${errorEvents} error events`);
    if (closed > 0) problems.push(`${closed} sockets closed by the service`);
    if (sent.notOpen > 0) problems.push(`${sent.notOpen} sends found the socket closed`);
    const client = distribution(clientMs);
    const webhook = distribution(hookMs);
    if (!(client.p99 <= GOAL_P99_MS)) problems.push(`client p99 ${client.p99} ms > ${GOAL_P99_MS} ms`);
    if (!(webhook.p99 <= GOAL_P99_MS)) problems.push(`webhook p99 ${webhook.p99} ms > ${GOAL_P99_MS} ms`);
    await Promise.all(clients.map((c) => c.close()));
    return {
      format,
      audioMs,
      n,
      pass: problems.length === 0,
      problems,
      client,
      webhook,
      messagesPerSecond: sent.messages / sent.seconds,
      rssMiB: peakRss / MB,
      cpu: cpuShares(used),
      wait: waitShares(used),
      loopP99Ms: loop.p99Ms,
      loopMaxMs: loop.maxMs,
      slowest,
      detail: { sent: { messages: sent.messages, bytes: sent.bytes, seconds: sent.seconds, late: sent.late }, totals, cpu_ms: used, bench_loop_delay: loop, runtime_peak_rss_bytes: peakRss, slowest_client_events: slowest },
    };
  } finally {
    await stack.stop();
  }
}

const started = Date.now();
/** BENCH_SCALE_AUDIO_MS=20 (or 100) runs only the series with that audio framing. */
const onlyAudioMs = Number(process.env.BENCH_SCALE_AUDIO_MS ?? 0);
const pixels = { JPEG: await framePixels("JPEG", 640, 480, 5), I420: await framePixels("I420", 640, 480, 5) };
const results: StepResult[] = [];
/** BENCH_SCALE_STEP=JPEG:20:200 runs that one step (format, audio framing, N) and nothing else. */
const onlyStep = process.env.BENCH_SCALE_STEP?.split(":");
for (const series of SERIES.filter((x) => onlyAudioMs === 0 || x.audioMs === onlyAudioMs)) {
  const { format, audioMs } = series;
  if (onlyStep !== undefined && (onlyStep[0] !== format || Number(onlyStep[1]) !== audioMs)) continue;
  if (onlyStep !== undefined) series.ladder = [Number(onlyStep[2])];
  const video = videoMessage({ format: format as PixelFormatName, width: 640, height: 480, data: pixels[format] });
  const audio = speechMessages(16_000, audioMs);
  const label = `${format}, audio ${audioMs} ms`;
  // Up the ladder until a step fails; if the first rung fails, halve N until a step passes (or N < MIN_N).
  const up = series.ladder;
  let index = 0;
  let n: number | undefined = up[0];
  let goingDown = false;
  while (n !== undefined) {
    if (Date.now() - started > BUDGET_MS) {
      console.log(`  (time budget used: ${label} N=${n} not run)`);
      break;
    }
    const r = await step(format, audioMs, n, video, audio);
    results.push(r);
    console.log(`  ${label} N=${n}: ${r.pass ? "pass" : `FAIL: ${r.problems.slice(0, 4).join("; ")}`}`);
    if (!r.pass) console.log(`    slowest client events (s after the first result: ms): ${r.slowest.map((x) => `${x.atS}: ${x.ms}`).join(", ")}`);
    const half = Math.floor(n / 2);
    if (goingDown) n = r.pass || half < MIN_N ? undefined : half;
    else if (r.pass) n = up[++index];
    else if (index === 0 && !SMOKE && half >= MIN_N) [goingDown, n] = [true, half];
    else n = undefined;
  }
}

table(
  `Participants at 1 fps 640x480 video + 16 kHz audio, SUSPICIOUS then ALERT in rounds (latency in ms)`,
  ["video, audio frames, N", "transitions", "msgs/s", "client p50", "client p99", "webhook p50", "webhook p99", "runtime RSS", "CPU (one core = 100 %)", "waiting for a core", "bench loop p99/max", "result"],
  results.map((r) => [
    `${r.format}, ${r.audioMs} ms, ${r.n}`,
    r.client.n,
    Math.round(r.messagesPerSecond),
    r.client.p50,
    r.client.p99,
    r.webhook.p50,
    r.webhook.p99,
    `${r.rssMiB.toFixed(0)} MiB`,
    r.cpu,
    r.wait,
    `${r.loopP99Ms.toFixed(0)}/${r.loopMaxMs.toFixed(0)} ms`,
    r.pass ? "pass" : `FAIL (${r.problems.length})`,
  ]),
);
for (const { format, audioMs } of SERIES) {
  const mine = results.filter((r) => r.format === format && r.audioMs === audioMs);
  if (mine.length === 0) continue;
  const best = mine.filter((r) => r.pass).sort((a, b) => a.n - b.n).at(-1);
  const failed = mine.filter((r) => !r.pass && (best === undefined || r.n > best.n)).sort((a, b) => a.n - b.n)[0];
  const what = `1 fps ${format} 640x480 + audio in ${audioMs} ms frames${format === "I420" ? ", SUSPICIOUS" : ""}`;
  record({
    bench: "scale",
    measure: `largest N at ${what}, p99 <= ${GOAL_P99_MS} ms`,
    value: best ? `${best.n}${failed ? "" : " (top of ladder)"}` : `< ${Math.min(...mine.map((r) => r.n))}`,
    baseline: failed ? { label: `N=${failed.n} failed`, value: failed.problems.slice(0, 2).join("; ") } : undefined,
    goal: `>= ${GOALS[format]}`,
    met: best !== undefined && best.n >= GOALS[format],
    detail: { steps: mine },
  });
  if (best) record({ bench: "scale", measure: `runtime workerd RSS at ${format} + ${audioMs} ms audio, N=${best.n}`, value: Math.round(best.rssMiB), unit: "MiB", detail: { client_p99_ms: best.client.p99, webhook_p99_ms: best.webhook.p99 } });
}

// The JPEG goal step again with wrangler dev's storage on the disk instead of tmpfs (live.ts, storage).
const memoryGoal = results.find((r) => r.format === "JPEG" && r.audioMs === 20 && r.n === GOALS.JPEG);
if (memoryGoal && !SMOKE && onlyStep === undefined) {
  const audio = speechMessages(16_000, 20);
  const video = videoMessage({ format: "JPEG", width: 640, height: 480, data: pixels.JPEG });
  const disk = await step("JPEG", 20, GOALS.JPEG, video, audio, "disk");
  const p99s = (r: StepResult): string => `${r.client.p99} / ${r.webhook.p99} ms`;
  console.log(`  JPEG, audio 20 ms N=${GOALS.JPEG}, storage on disk: ${disk.pass ? "pass" : `FAIL: ${disk.problems.slice(0, 4).join("; ")}`}`);
  record({
    bench: "scale",
    measure: `N=${GOALS.JPEG}, 1 fps JPEG + audio in 20 ms frames, wrangler dev's storage on disk: result -> client / webhook p99`,
    value: p99s(disk),
    baseline: { label: "storage in tmpfs (the step above)", value: p99s(memoryGoal) },
    detail: { step: disk },
  });
}

// Issue 20's goals, each beside its baseline from this run: the same N with audio in 100 ms frames (the SDK's default).
for (const format of ["JPEG", "I420"] as const) {
  const n = GOALS[format];
  const goal = results.find((r) => r.format === format && r.audioMs === 20 && r.n === n);
  const base = results.find((r) => r.format === format && r.audioMs === 100 && r.n === n);
  const p99s = (r: StepResult): string => `${r.client.p99} / ${r.webhook.p99} ms`;
  record({
    bench: "scale",
    measure: `N=${n}, 1 fps ${format} 640x480 + audio in 20 ms frames: result -> client / webhook p99`,
    value: goal ? `${p99s(goal)}${goal.pass ? "" : ` (${goal.problems.slice(0, 2).join("; ")})`}` : "not run",
    baseline: base ? { label: "same N, audio in 100 ms frames", value: p99s(base) } : undefined,
    goal: `<= ${GOAL_P99_MS} ms, nothing lost`,
    met: goal?.pass ?? false,
  });
}
