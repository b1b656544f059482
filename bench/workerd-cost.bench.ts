/**
 * The runtime's share of the per-message cost: CPU per message inside a real `wrangler dev` (the
 * runtime workerd process, from /proc), next to the same message through the same modules in Node
 * (bench/lib/node-session.ts). The difference is what the JavaScript profile cannot show: WebSocket
 * framing and the copy into an ArrayBuffer, the hibernation API's dispatch into webSocketMessage, and
 * the isolate's event loop. wrangler dev's proxy workerd is reported apart (Cloudflare has none).
 *
 * Then a CPU profile of the Worker's isolate at the load (N participants x 50 audio + 1 JPEG
 * per second) through workerd's inspector, attributed to source files and parts of the path.
 *
 * Method: P sockets send M messages of one kind at a fixed total rate, then one text probe each;
 * CPU is read before the first message and after every probe was answered (all messages handled),
 * minus the idle CPU of the same length measured first.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleLineMap, printSummary, summarise } from "./lib/cpuprofile.js";
import { connectInspector, startProfile } from "./lib/inspector.js";
import { MB, cpuMeter, startLive, until, type LiveStack } from "./lib/live.js";
import { startLoad } from "./lib/load.js";
import { framePixels, helloMessage, speechMessages, videoMessage } from "./lib/media.js";
import { asArrayBuffer, benchVars, nodeSession } from "./lib/node-session.js";
import { REPO_ROOT } from "../test/e2e/harness/wrangler-dev.js";
import type { ParticipantClient } from "../test/e2e/harness/client.js";
import { median, pick, record, sleep, table } from "./harness.js";

/** Sockets open for the measurement; each kind uses as many as keep every socket within its budgets (audio at real time). */
const SOCKETS = pick(50, 10);
const SECONDS = pick(6, 1);
const PROFILE_PARTICIPANTS = pick(200, 4);
const PROFILE_SECONDS = pick(10, 2);
const PROFILE_INTERVAL_US = 250;

interface Kind {
  name: string;
  messages: Uint8Array[];
  ratePerSecond: number;
  /** How many sockets share the rate: audio goes at real time per socket (the audio budget closes faster ones). */
  sockets: number;
  /** Spacing of the messages on the Node path's clock (the audio frame's length: real time). */
  stepMs: number;
}

const rgba = videoMessage({ format: "RGBA", width: 640, height: 480, data: await framePixels("RGBA", 640, 480, 1) });
const kinds: Kind[] = [
  { name: "Hello (smallest message)", messages: [helloMessage()], ratePerSecond: pick(2_000, 400), sockets: pick(10, 2), stepMs: 20 },
  { name: "audio 16 kHz, 20 ms frame", messages: speechMessages(16_000, 20), ratePerSecond: pick(2_000, 500), sockets: pick(40, 10), stepMs: 20 },
  { name: "audio 16 kHz, 100 ms frame", messages: speechMessages(16_000, 100), ratePerSecond: pick(500, 100), sockets: pick(50, 10), stepMs: 100 },
  { name: "640x480 RGBA frame, skipped", messages: [rgba], ratePerSecond: 30, sockets: pick(10, 2), stepMs: 1000 / 30 },
];

/** CPU µs per message of the same kind through the Node harness (no runtime). */
async function nodeCost(kind: Kind): Promise<number> {
  const s = await nodeSession("cost", benchVars({ VIDEO_NORMAL_FPS: "0" }));
  await s.ready();
  await s.receive(asArrayBuffer(helloMessage()), 0);
  const buffers = kind.messages.map(asArrayBuffer);
  const stepMs = kind.stepMs;
  const runs = [];
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    const n = pick(5_000, 200);
    for (let i = 0; i < n; i++) await s.receive(buffers[i % buffers.length]!, 1_000 + (r * n + i) * stepMs);
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / n);
  }
  const refused = s.counters.snapshot().rate_limited;
  if (refused > 0) throw new Error(`${kind.name}: ${refused} messages refused by the budget on the Node path: the figure would measure the refusal`);
  return median(runs);
}

async function probeAll(clients: ParticipantClient[]): Promise<boolean> {
  const before = clients.map((c) => c.ofType("error").length);
  for (const c of clients) c.sendRaw("probe");
  return until(() => clients.every((c, i) => c.ofType("error").length > before[i]!), 60_000, 5);
}

const stack: LiveStack = await startLive({ vars: { VIDEO_NORMAL_FPS: "0" } });
const rows: Array<Array<string | number>> = [];
try {
  const clients = await Promise.all(Array.from({ length: SOCKETS }, (_, i) => stack.connect(`cost-${i}-${Date.now().toString(36)}`)));
  for (const c of clients) c.sendRaw(helloMessage("bench-cost"));
  await probeAll(clients);
  // Idle baseline: the runtime's own CPU with the sockets open and nothing arriving.
  const idle = cpuMeter(stack);
  await sleep(SECONDS * 1000);
  const idleUsed = idle.read();
  const idleRuntimePerMs = idleUsed.runtimeMs / idleUsed.wallMs;
  const idleProxyPerMs = idleUsed.proxyMs / idleUsed.wallMs;

  for (const kind of kinds) {
    const mine = clients.slice(0, kind.sockets);
    const perSocketMs = (1000 * kind.sockets) / kind.ratePerSecond;
    const meter = cpuMeter(stack);
    const load = startLoad(mine.map((client, i) => ({ participantId: String(i), client, video: kind.messages.length === 1 && kind.messages[0] === rgba ? rgba : null, audio: kind.messages[0] === rgba ? [] : kind.messages })), {
      audioMs: perSocketMs,
      videoMs: perSocketMs,
    });
    await sleep(SECONDS * 1000);
    const sent = load.stop();
    const drained = await probeAll(mine);
    const used = meter.read();
    const runtimeUs = ((used.runtimeMs - idleRuntimePerMs * used.wallMs) * 1000) / sent.messages;
    const proxyUs = ((used.proxyMs - idleProxyPerMs * used.wallMs) * 1000) / sent.messages;
    const nodeUs = await nodeCost(kind);
    const closed = mine.filter((c) => c.closed !== null).length;
    if (closed > 0) throw new Error(`${kind.name}: ${closed} sockets were closed by the service (over a budget?): the figure would be wrong`);
    rows.push([kind.name, sent.messages, Math.round(sent.messages / sent.seconds), runtimeUs, nodeUs, runtimeUs - nodeUs, proxyUs, drained ? "" : "not drained"]);
    record({
      bench: "workerd-cost",
      measure: `runtime workerd CPU per message: ${kind.name}`,
      value: runtimeUs,
      unit: "µs",
      baseline: { label: "same JS path in Node", value: nodeUs, unit: "µs" },
      detail: { messages: sent.messages, seconds: sent.seconds, proxy_us: proxyUs, runtime_overhead_us: runtimeUs - nodeUs, cpu_ms: used, drained },
    });
  }
  table(
    `CPU per message inside wrangler dev (runtime workerd, /proc; idle CPU subtracted) vs the same JS path in Node, 10-50 sockets`,
    ["message", "messages", "msgs/s", "runtime µs/msg", "Node JS µs/msg", "runtime overhead µs", "proxy µs/msg (dev only)", ""],
    rows,
  );
  await Promise.all(clients.map((c) => c.close()));
} finally {
  await stack.stop();
}

// ---- profile of the Worker's isolate at the load --------------------------------------
const live = await startLive({});
try {
  const jpeg = videoMessage({ format: "JPEG", width: 640, height: 480, data: await framePixels("JPEG", 640, 480, 4) });
  const audio = speechMessages(16_000, 20);
  const pids = Array.from({ length: PROFILE_PARTICIPANTS }, (_, i) => `prof-${i}-${Date.now().toString(36)}`);
  const clients: ParticipantClient[] = [];
  for (let i = 0; i < pids.length; i += 25) clients.push(...(await Promise.all(pids.slice(i, i + 25).map((pid) => live.connect(pid)))));
  for (const c of clients) c.sendRaw(helloMessage("bench-profile"));
  // The profiler is started before the load: at 10 000 msgs/s the inspector's commands wait behind
  // the isolate's queue of socket events.
  const inspector = await connectInspector(live.dev.inspectorPort);
  const profiling = await startProfile(inspector, PROFILE_INTERVAL_US);
  const load = startLoad(pids.map((participantId, i) => ({ participantId, client: clients[i]!, video: jpeg, audio })), { audioMs: 20, videoMs: 1_000 });
  const meter = cpuMeter(live);
  await sleep(PROFILE_SECONDS * 1000);
  const used = meter.read();
  const sent = load.stop();
  const { profile, sources } = await profiling.stop();
  inspector.close();
  const maps = new Map([...sources].map(([id, src]) => [id, bundleLineMap(src)]));
  const summary = summarise(profile, {
    top: 25,
    weight: { samples: PROFILE_INTERVAL_US },
    fileOf: (_url, line, scriptId) => (scriptId !== undefined ? (maps.get(scriptId)?.(line) ?? null) : null),
  });
  const jsMs = summary.total_ms - (summary.parts.find((p) => p.key === "idle")?.ms ?? 0);
  const rate = sent.messages / sent.seconds;
  console.log(`\nworkerd isolate at ${PROFILE_PARTICIPANTS} participants x (50 audio + 1 JPEG)/s = ${Math.round(rate).toLocaleString("en-US")} msgs/s sent; runtime workerd CPU ${Math.round((used.runtimeMs / used.wallMs) * 100)} % of a core, proxy ${Math.round((used.proxyMs / used.wallMs) * 100)} %, RSS ${((live.workerd().runtime?.rssBytes ?? 0) / MB).toFixed(0)} MiB`);
  console.log(`  the isolate was sampled executing for ~${jsMs.toFixed(0)} ms (samples x ${PROFILE_INTERVAL_US} µs) while the runtime process used ${used.runtimeMs.toFixed(0)} ms CPU: the rest is native work outside JavaScript (sockets, WebSocket framing, dispatch), which the profile cannot see`);
  printSummary(`profile of the Worker's isolate (inspector Profiler, ${PROFILE_INTERVAL_US} µs interval, samples counted)`, summary);
  const keep = join(REPO_ROOT, "bench-profiles");
  mkdirSync(keep, { recursive: true });
  writeFileSync(join(keep, "workerd-isolate.cpuprofile"), JSON.stringify(profile));
  console.log("  profile kept in bench-profiles/workerd-isolate.cpuprofile");
  const idlePart = summary.parts.find((p) => p.key === "idle")?.ms ?? 0;
  const busy = summary.total_ms - idlePart;
  const share = (key: string): number => (summary.parts.find((p) => p.key === key)?.ms ?? 0) / busy;
  record({
    bench: "workerd-cost",
    measure: `workerd at ${Math.round(rate).toLocaleString("en-US")} msgs/s: JavaScript sampled / runtime process CPU`,
    value: `${jsMs.toFixed(0)} / ${used.runtimeMs.toFixed(0)} ms`,
    baseline: { label: "audio chain share of JS", value: `${(share("audio chain (validate, mono, resample, gate, chunk)") * 100).toFixed(0)} %` },
    detail: { rate, cpu_ms: used, js_sampled_ms: jsMs, parts: summary.parts.map((p) => ({ part: p.key, ms: p.ms, share_of_busy: p.key === "idle" ? null : p.ms / busy })), functions: summary.functions },
  });
  await Promise.all(clients.map((c) => c.close()));
} finally {
  await live.stop();
}
