/**
 * The LiveKit bridge (docs/DESIGN.md §14) under load: a real livekit-server, a real `wrangler dev` in
 * production mode with the fake Dataspike API, the `deepfake-edge-livekit` command as a user runs it
 * (its own process, measured through /proc), and @livekit/rtc-node publishers in this process, each
 * with a 320x240 camera at 15 fps and a microphone (a tone, so the voice gate hears speech).
 *
 * For each rung of the ladder (publishers added to the same room) it measures over a window:
 *   - the bridge's CPU (share of one core) and resident memory, against the same bridge with no one
 *     to monitor (the baseline), and so its cost per monitored participant;
 *   - that every participant's camera reached the API at the announced 0.2 fps;
 *   - every result delivered: one scripted ALERT and one CLEAR per participant, each of which must
 *     reach a watcher in the LiveKit room as a `deepfake_alert` data message; the latency from the
 *     scripted result to the data message, against a plain SDK client's latency from the same kind of
 *     result to its own `deepfake_alert` event (the baseline: the service without the LiveKit hop).
 * A rung "carries" its participants when every result was delivered, every camera kept its rate and
 * the bridge used less than one core.
 *
 *   npm run bench -- livekit      (needs livekit-server: `npm run test:livekit` builds it once)
 */
import WebSocket from "ws";
import { DeepfakeEdgeClient, nodeSocketFactory } from "@deepfake-edge/client";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { FakeUpstream, productionVars } from "../test/e2e/harness/fake-upstream.js";
import { procStat, rssBytes } from "../test/e2e/harness/proc.js";
import { REPO_ROOT, startWranglerDev } from "../test/e2e/harness/wrangler-dev.js";
import { startLiveKitServer } from "../integrations/livekit/test/harness/livekit-server.js";
import { startPublisher, type Publisher } from "../integrations/livekit/test/harness/publisher.js";
import { distribution, pick, record, sleep, table, type Distribution } from "./harness.js";

const API_KEY = "bench-livekit-api";
const ADMIN_KEY = "bench-livekit-admin";
const ROOM = "B";
const LADDER = pick([2, 4, 8, 16, 24, 32], [1]);
const WINDOW_MS = pick(20_000, 5_000);
const IDLE_MS = pick(10_000, 3_000);
const MB = 1024 * 1024;

interface Rung {
  participants: number;
  cpuPct: number;
  rssMb: number;
  jpegsPerParticipant: { min: number; max: number };
  expectedJpegs: number;
  delivered: number;
  results: number;
  latency: Distribution;
  carried: boolean;
}

function bridgeMeter(pid: number): () => { cpuPct: number; rssMb: number } {
  const t0 = Date.now();
  const c0 = procStat(pid)?.cpuMs ?? 0;
  return () => ({
    cpuPct: (((procStat(pid)?.cpuMs ?? 0) - c0) / (Date.now() - t0)) * 100,
    rssMb: (rssBytes(pid) ?? 0) / MB,
  });
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

const fake = await FakeUpstream.start({ expectedKey: API_KEY, decodeJpegs: false });
const vars = productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY });
const livekit = await startLiveKitServer();
const dev = await startWranglerDev({ vars }).catch(async (err: unknown) => {
  await livekit.stop();
  await fake.close();
  throw err;
});
const people: Publisher[] = [];
const bridge = spawn(join(REPO_ROOT, "node_modules", ".bin", "deepfake-edge-livekit"), ["--room", ROOM], {
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    LIVEKIT_URL: livekit.url,
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
    DEEPFAKE_EDGE_URL: dev.url,
    DEEPFAKE_EDGE_ADMIN_KEY: ADMIN_KEY,
  },
});
let direct: DeepfakeEdgeClient | undefined;
try {
  const watcher = await startPublisher(livekit, ROOM, { identity: "watcher" });
  people.push(watcher);
  await sleep(3_000); // the bridge joins
  const idleMeter = bridgeMeter(bridge.pid!);
  await sleep(IDLE_MS);
  const idle = idleMeter();

  // Baseline latency: a plain SDK client of the same service, one result -> its own event.
  const { token } = (await (
    await fetch(`${dev.url}/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ participant_id: "direct", ttl_s: 600 }),
    })
  ).json()) as { token: string };
  const socketFactory = nodeSocketFactory(WebSocket);
  direct = new DeepfakeEdgeClient({ baseUrl: dev.url, participantId: "direct", token, socketFactory });
  await direct.connect();
  const heard = new Map<string, number>();
  direct.on("deepfake_alert", (e) => heard.set(e.message, Date.now()));
  direct.sendVideo({ trackId: "camera", width: 16, height: 16, format: "I420", data: new Uint8Array(384) });
  await until(() => fake.knows("direct"), 10_000);
  const directMs: number[] = [];
  for (let k = 0; k < pick(40, 4); k++) {
    const tag = `direct ${k}`;
    const sent = Date.now();
    fake.sendResultTo(k % 2 === 0 ? "ALERT" : "CLEAR", "direct", "camera", tag);
    if (await until(() => heard.has(tag), 5_000)) directMs.push(heard.get(tag)! - sent);
  }
  const directLatency = distribution(directMs);

  const rungs: Rung[] = [];
  for (const n of LADDER) {
    while (people.length - 1 < n) {
      const identity = `p${people.length}`;
      people.push(await startPublisher(livekit, ROOM, { identity, camera: true, microphone: true, fps: 15 }));
    }
    const ids = people.slice(1).map((p) => `${ROOM}:${p.identity}`);
    await until(() => ids.every((id) => fake.knows(id)), 60_000);
    const meter = bridgeMeter(bridge.pid!);
    const since = Date.now();
    await sleep(WINDOW_MS);
    const use = meter();
    const jpegs = people.slice(1).map((p) => {
      const camera = p.sids.camera;
      return fake.frames.filter((f) => f.trackId === camera && f.atMs >= since && f.atMs < since + WINDOW_MS).length;
    });
    // Every result delivered: an ALERT and a CLEAR for each participant, each a data message in the room.
    const latencies: number[] = [];
    let results = 0;
    for (const level of ["ALERT", "CLEAR"] as const) {
      for (const p of people.slice(1)) {
        const tag = `${level} ${p.identity} ${n}`;
        const before = Date.now();
        results++;
        fake.sendResultTo(level, `${ROOM}:${p.identity}`, p.sids.camera!, tag);
        const arrived = await until(() => watcher.data.some((d) => d.text.includes(`"message":"${tag}"`)), 5_000);
        if (arrived) latencies.push(watcher.data.find((d) => d.text.includes(`"message":"${tag}"`))!.atMs - before);
      }
    }
    const expected = Math.floor((WINDOW_MS / 1000) * 0.2);
    const rung: Rung = {
      participants: n,
      cpuPct: use.cpuPct,
      rssMb: use.rssMb,
      jpegsPerParticipant: { min: Math.min(...jpegs), max: Math.max(...jpegs) },
      expectedJpegs: expected,
      delivered: latencies.length,
      results,
      latency: distribution(latencies),
      carried: latencies.length === results && Math.min(...jpegs) >= expected && use.cpuPct < 100,
    };
    rungs.push(rung);
    console.log(`  ${n} participants: bridge ${rung.cpuPct.toFixed(0)} % of a core, ${rung.rssMb.toFixed(0)} MB; ` +
      `JPEGs ${rung.jpegsPerParticipant.min}-${rung.jpegsPerParticipant.max} (expected ${expected}); ` +
      `${rung.delivered}/${results} results delivered, p50 ${rung.latency.p50} ms, p99 ${rung.latency.p99} ms`);
    if (!rung.carried) break;
  }

  table(
    `LiveKit bridge: one process, ${ROOM} with N participants (320x240 camera at 15 fps + microphone each)`,
    ["participants", "bridge CPU %", "per participant %", "RSS MB", "per participant MB", "delivered", "p50", "p99"],
    [
      ["0 (baseline)", idle.cpuPct, "", idle.rssMb, "", "", "", ""],
      ...rungs.map((r) => [
        r.participants,
        r.cpuPct,
        (r.cpuPct - idle.cpuPct) / r.participants,
        r.rssMb,
        (r.rssMb - idle.rssMb) / r.participants,
        `${r.delivered}/${r.results}`,
        r.latency.p50,
        r.latency.p99,
      ]),
    ],
  );
  const carried = rungs.filter((r) => r.carried).at(-1);
  const top = rungs.at(-1)!;
  record({
    bench: "livekit-bridge",
    measure: "scripted result -> deepfake_alert data message in the LiveKit room, p99",
    value: Math.max(...rungs.map((r) => r.latency.p99)),
    unit: "ms",
    baseline: { label: "plain SDK client, result -> its own event", value: directLatency.p99, unit: "ms" },
    detail: { rungs: rungs.map((r) => ({ participants: r.participants, ...r.latency })), direct: directLatency },
  });
  record({
    bench: "livekit-bridge",
    measure: "bridge CPU per monitored participant (share of one core)",
    value: (top.cpuPct - idle.cpuPct) / top.participants,
    unit: "%",
    baseline: { label: "the bridge with no one to monitor", value: idle.cpuPct, unit: "%" },
    detail: { participants: top.participants },
  });
  record({
    bench: "livekit-bridge",
    measure: "bridge memory per monitored participant",
    value: (top.rssMb - idle.rssMb) / top.participants,
    unit: "MB",
    baseline: { label: "the bridge with no one to monitor", value: idle.rssMb, unit: "MB" },
  });
  record({
    bench: "livekit-bridge",
    measure: "participants one bridge process carried (every result delivered, cameras at rate, < 1 core)",
    value: carried?.participants ?? 0,
    detail: { ladder: LADDER, stoppedAt: rungs.find((r) => !r.carried)?.participants ?? null },
  });
} finally {
  direct?.close();
  bridge.kill("SIGTERM");
  await new Promise((r) => bridge.once("exit", r));
  for (const p of people) await p.leave();
  await livekit.stop();
  await dev.stop();
  await fake.close();
}
