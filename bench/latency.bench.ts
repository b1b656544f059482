/**
 * Latency from the upstream ResultEvent to the client's deepfake_alert event and to webhook receipt
 * (issue 13: p99 <= 20 ms to the client, idle and while encoding 720p; p99 <= 50 ms to the webhook),
 * through a real `wrangler dev` in production mode with the fake Dataspike API and a webhook sink.
 *
 * Method: one participant; the fake upstream sends one ResultEvent at a time (levels cycling
 * suspicious -> alert -> clear, so each is a transition), each with a unique message; t0 is taken
 * just before the fake upstream's send, t1 when the client socket receives the deepfake_alert with
 * that message, t2 when the sink has read the signed POST carrying it. The next result goes after
 * both arrived plus a random gap, so results land at random phases of the encode cycle.
 *
 *   idle:      no media after the one frame that opens the upstream
 *   encoding:  the same object receives 1280x720 RGB24 frames at 1 fps and encodes each one
 *              (VIDEO_NORMAL_FPS = VIDEO_BURST_FPS = 1, so every level samples at 1 fps)
 */
import { framePixels, helloMessage, videoMessage } from "./lib/media.js";
import { cpuMeter, loopDelay, startLive, until, waitShares, type CpuUse, type LiveStack } from "./lib/live.js";
import { distribution, pick, record, sleep, table, type Distribution } from "./harness.js";
import type { ResultTypeName } from "../test/e2e/harness/fake-upstream.js";

const TRANSITIONS = pick(200, 6);
const CLIENT_GOAL_MS = 20;
const WEBHOOK_GOAL_MS = 50;
const LEVELS: ResultTypeName[] = ["SUSPICIOUS", "ALERT", "CLEAR"];
const RUN = Date.now().toString(36);

interface Outcome {
  name: string;
  client: Distribution;
  webhook: Distribution;
  lost: number;
  encodes: number;
  seconds: number;
  loop: { p99Ms: number; maxMs: number };
  cpu: CpuUse;
}

async function measure(name: string, encoding: boolean): Promise<Outcome> {
  const stack: LiveStack = await startLive({ webhooks: true, vars: encoding ? { VIDEO_NORMAL_FPS: "1", VIDEO_BURST_FPS: "1" } : {} });
  const pid = `lat-${name}-${RUN}`;
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    const client = await stack.connect(pid);
    client.sendRaw(helloMessage("bench-latency"));
    const W = encoding ? 1280 : 640;
    const H = encoding ? 720 : 480;
    const frame = videoMessage({ format: encoding ? "RGB24" : "JPEG", width: W, height: H, data: await framePixels(encoding ? "RGB24" : "JPEG", W, H, 3) });
    client.sendRaw(frame);
    if (encoding) timer = setInterval(() => client.sendRaw(frame), 1_000);
    if (!(await until(() => stack.fake.knows(pid), 20_000))) throw new Error(`${name}: the participant's first frame never reached the upstream`);
    const sink = stack.sink!;
    const clientMs: number[] = [];
    const webhookMs: number[] = [];
    let lost = 0;
    const framesBefore = stack.fake.frames.length;
    const started = Date.now();
    const lag = loopDelay();
    const meter = cpuMeter(stack);
    for (let k = 0; k < TRANSITIONS; k++) {
      const tag = `bench-${name}-${k}`;
      const fromEvent = client.events.length;
      const fromDelivery = sink.deliveries.length;
      const t0 = Date.now();
      if (!stack.fake.sendResultTo(LEVELS[k % LEVELS.length]!, pid, "camera", tag)) throw new Error(`${name}: the upstream socket of ${pid} is gone`);
      let t1: number | undefined;
      let t2: number | undefined;
      await until(() => {
        t1 ??= client.events.slice(fromEvent).find((e) => e.event.type === "deepfake_alert" && e.event.message === tag)?.atMs;
        t2 ??= sink.deliveries.slice(fromDelivery).find((d) => d.body.includes(`"message":"${tag}"`))?.atMs;
        return t1 !== undefined && t2 !== undefined;
      }, 10_000, 1);
      if (t1 === undefined || t2 === undefined) lost++;
      if (t1 !== undefined) clientMs.push(t1 - t0);
      if (t2 !== undefined) webhookMs.push(t2 - t0);
      await sleep(encoding ? Math.random() * 400 : 10 + Math.random() * 40);
    }
    const loop = lag.stop();
    const cpu = meter.read();
    const seconds = (Date.now() - started) / 1000;
    const encodes = stack.fake.frames.slice(framesBefore).filter((f) => f.participantId === pid && f.width === W).length;
    const errors = client.ofType("error");
    if (errors.length > 0) throw new Error(`${name}: the service answered errors: ${JSON.stringify(errors[0]!.event)}`);
    await client.close();
    return { name, client: distribution(clientMs), webhook: distribution(webhookMs), lost, encodes, seconds, loop, cpu };
  } finally {
    clearInterval(timer);
    await stack.stop();
  }
}

const outcomes = [await measure("idle", false), await measure("encoding-720p", true)];
table(
  `ResultEvent -> client deepfake_alert / -> webhook receipt, ${TRANSITIONS} transitions each (ms; Date.now() resolution 1 ms)`,
  ["condition", "client p50", "client p99", "client max", "webhook p50", "webhook p99", "webhook max", "lost", "720p encodes/s", "bench loop p99/max", "waiting for a core"],
  outcomes.map((o) => [
    o.name,
    o.client.p50,
    o.client.p99,
    o.client.max,
    o.webhook.p50,
    o.webhook.p99,
    o.webhook.max,
    o.lost,
    o.name === "idle" ? "-" : (o.encodes / o.seconds).toFixed(2),
    `${o.loop.p99Ms.toFixed(0)}/${o.loop.maxMs.toFixed(0)} ms`,
    waitShares(o.cpu),
  ]),
);
const [idle, busy] = outcomes as [Outcome, Outcome];
record({
  bench: "latency",
  measure: "result -> client event p99, idle",
  value: idle.client.p99,
  unit: "ms",
  goal: `p99 <= ${CLIENT_GOAL_MS} ms`,
  met: idle.client.p99 <= CLIENT_GOAL_MS && idle.lost === 0,
  detail: { ...idle },
});
record({
  bench: "latency",
  measure: "result -> client event p99, encoding 1280x720 at 1 fps",
  value: busy.client.p99,
  unit: "ms",
  baseline: { label: "idle", value: idle.client.p99, unit: "ms" },
  goal: `p99 <= ${CLIENT_GOAL_MS} ms`,
  met: busy.client.p99 <= CLIENT_GOAL_MS && busy.lost === 0,
  detail: { ...busy },
});
record({
  bench: "latency",
  measure: "result -> webhook p99, idle",
  value: idle.webhook.p99,
  unit: "ms",
  goal: `p99 <= ${WEBHOOK_GOAL_MS} ms`,
  met: idle.webhook.p99 <= WEBHOOK_GOAL_MS && idle.lost === 0,
});
record({
  bench: "latency",
  measure: "result -> webhook p99, encoding 1280x720 at 1 fps",
  value: busy.webhook.p99,
  unit: "ms",
  baseline: { label: "idle", value: idle.webhook.p99, unit: "ms" },
  goal: `p99 <= ${WEBHOOK_GOAL_MS} ms`,
  met: busy.webhook.p99 <= WEBHOOK_GOAL_MS && busy.lost === 0,
});
