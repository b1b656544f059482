/**
 * Sustained ingest (issue 13: no backlog, p99 handling <= 100 ms): one participant sends 640x480
 * RGBA at 30 fps for 60 s through a real `wrangler dev` (production mode, fake upstream). The
 * participant is SUSPICIOUS first, so the object samples and encodes 1 frame/s and skips the rest.
 *
 * Handling delay is measured with in-band probes: every 200 ms the client sends a text message on the
 * same socket, between two frames. The object answers each one at once with an `error` event
 * (text_not_supported; no await before the answer), and it handles a socket's messages in order, so a
 * probe's round trip = the time the frames ahead of it took to be received and handled + one tiny
 * message + loopback. A backlog shows as probe delays that grow through the run and as a long drain
 * after the last frame. Frames handled come from the object's own counters (snapshot with the admin
 * key), upstream frames from the fake upstream.
 */
import { framePixels, helloMessage, videoMessage } from "./lib/media.js";
import { MB, cpuMeter, cpuShares, loopDelay, startLive, until, rssSampler, waitShares } from "./lib/live.js";
import { distribution, pick, record, sleep, table } from "./harness.js";

const W = 640;
const H = 480;
const FPS = 30;
const SECONDS = pick(60, 3);
/** The same stream with permessage-deflate (what `ws` and browsers offer by default), shorter: a baseline. */
const DEFLATE_SECONDS = pick(10, 2);
const PROBE_MS = 200;
const GOAL_P99_MS = 100;
const RUN = Date.now().toString(36);

interface Outcome {
  seconds: number;
  deflate: boolean;
  extensions: string;
  sent: number;
  handled: number;
  p99: number;
  noBacklog: boolean;
  detail: Record<string, unknown>;
}

async function sustain(seconds: number, deflate: boolean): Promise<Outcome> {
  const pid = `sustained-${deflate ? "deflate" : "raw"}-${RUN}`;
  const stack = await startLive();
  try {
    const client = await stack.connect(pid, { deflate });
    const extensions = client.socket.extensions || "none";
    client.sendRaw(helloMessage("bench-sustained"));
    const frames = await Promise.all([0, 1, 2, 3].map(async (seed) => videoMessage({ format: "RGBA", width: W, height: H, data: await framePixels("RGBA", W, H, seed) })));
    client.sendRaw(frames[0]!);
    if (!(await until(() => stack.fake.knows(pid), 20_000))) throw new Error("the first frame never reached the upstream");
    stack.fake.sendResultTo("SUSPICIOUS", pid, "camera", "bench-sustained");
    await client.waitFor((e) => e.type === "deepfake_alert" && e.level === "suspicious", 10_000);
    await sleep(200);
    const before = await stack.snapshot(pid);
    const upstreamBefore = stack.fake.frames.length;
    const cpu = cpuMeter(stack);
    const rss = rssSampler(stack);
    const lag = loopDelay();

    // The stream: a drift-free 30 fps schedule; probes every PROBE_MS on the same socket.
    const probeSent: number[] = [];
    const probeIndex = client.events.length;
    let sent = 0;
    let late = 0;
    let maxBuffered = 0;
    const t0 = Date.now();
    const total = seconds * FPS;
    while (sent < total) {
      const due = t0 + (sent * 1000) / FPS;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -1000 / FPS) late++;
      client.sendRaw(frames[sent % frames.length]!);
      sent++;
      maxBuffered = Math.max(maxBuffered, client.bufferedAmount);
      const probesDue = Math.floor((Date.now() - t0) / PROBE_MS) + 1;
      while (probeSent.length < probesDue && sent < total) {
        probeSent.push(Date.now());
        client.sendRaw("probe");
      }
    }
    const streamEnd = Date.now();
    probeSent.push(Date.now());
    client.sendRaw("probe");
    const answers = () => client.events.slice(probeIndex).filter((e) => e.event.type === "error" && e.event.code === "text_not_supported");
    const drained = await until(() => answers().length >= probeSent.length, 60_000);
    const drainMs = Date.now() - streamEnd;
    const loop = lag.stop();
    const used = cpu.read();
    const cpuMs = used.runtimeMs;
    const peakRss = rss.stop();
    await sleep(300); // let the last sampled frame's encode reach the upstream
    const after = await stack.snapshot(pid);
    const delays = answers().map((e, i) => e.atMs - probeSent[i]!);
    const d = distribution(delays);
    const half = Math.floor(delays.length / 2);
    const firstHalf = distribution(delays.slice(0, half));
    const secondHalf = distribution(delays.slice(half));
    const delta = (name: keyof typeof after.counters): number => after.counters[name] - before.counters[name];
    const upstream = stack.fake.frames.slice(upstreamBefore).filter((f) => f.participantId === pid && f.format === 0).length;
    const handled = delta("frames_received");
    const wallS = (streamEnd - t0) / 1000;
    const closed = client.closed;
    const otherErrors = client.events.slice(probeIndex).filter((e) => e.event.type === "error" && e.event.code !== "text_not_supported");

    table(`One participant, ${W}x${H} RGBA at ${FPS} fps for ${seconds} s (${(W * H * 4 * FPS / MB).toFixed(1)} MiB/s), SUSPICIOUS (1 fps sampled), WebSocket extensions: ${extensions}`, ["measure", "value", "expected"], [
      ["frames sent by the client", sent, `${total} (late sends: ${late})`],
      ["frames handled (frames_received)", handled, sent],
      ["  sampled / skipped / busy", `${delta("frames_sampled")} / ${delta("frames_skipped")} / ${delta("frames_busy")}`, `~${Math.round(wallS)} sampled`],
      ["upstream JPEG frames (fake upstream)", upstream, delta("frames_sampled")],
      ["handling delay (probe round trip) p50 / p99 / max", `${d.p50} / ${d.p99} / ${d.max} ms`, `p99 <= ${GOAL_P99_MS} ms`],
      ["  first half p99 / second half p99", `${firstHalf.p99} / ${secondHalf.p99} ms`, "no growth"],
      ["drain after the last frame (last probe answered)", `${drainMs} ms${drained ? "" : " (timed out)"}`, "< 100 ms"],
      ["client bufferedAmount max", `${(maxBuffered / MB).toFixed(2)} MiB`, "small"],
      ["CPU during the run (share of one core)", cpuShares(used), ""],
      ["waiting for a core (run queue; other processes' load)", waitShares(used), "0 on a quiet machine"],
      ["runtime workerd CPU per frame", `${(cpuMs / sent).toFixed(2)} ms`, ""],
      ["proxy workerd CPU per frame (wrangler dev only)", `${(used.proxyMs / sent).toFixed(2)} ms`, ""],
      ["runtime workerd RSS peak", `${(peakRss / MB).toFixed(0)} MiB`, ""],
      ["errors / socket closed", `${otherErrors.length} / ${closed ? `${closed.code} ${closed.reason}` : "no"}`, "0 / no"],
      ["bench process event-loop delay p99 / max", `${loop.p99Ms.toFixed(1)} / ${loop.maxMs.toFixed(0)} ms`, "adds to every delay above"],
    ]);
    const noBacklog = drained && handled === sent && drainMs < GOAL_P99_MS && otherErrors.length === 0 && closed === null;
    await client.close();
    return {
      seconds, deflate, extensions, sent, handled, p99: d.p99, noBacklog,
      detail: {
        sent, handled, late, sampled: delta("frames_sampled"), skipped: delta("frames_skipped"), busy: delta("frames_busy"), upstream_frames: upstream,
        delay_ms: d, first_half: firstHalf, second_half: secondHalf, drain_ms: drainMs, max_buffered_bytes: maxBuffered,
        cpu_ms: used, runtime_cpu_ms_per_frame: cpuMs / sent, proxy_cpu_ms_per_frame: used.proxyMs / sent, workerd_peak_rss_bytes: peakRss, bench_loop_delay: loop, errors: otherErrors.length,
      },
    };
  } finally {
    await stack.stop();
  }
}

const raw = await sustain(SECONDS, false);
const deflated = await sustain(DEFLATE_SECONDS, true);
record({
  bench: "sustained",
  measure: `30 fps 640x480 RGBA for ${SECONDS} s: p99 handling delay`,
  value: raw.p99,
  unit: "ms",
  baseline: { label: `same with permessage-deflate, ${DEFLATE_SECONDS} s`, value: deflated.p99, unit: "ms" },
  goal: `no backlog, p99 <= ${GOAL_P99_MS} ms`,
  met: raw.noBacklog && raw.p99 <= GOAL_P99_MS,
  detail: { raw, deflated },
});
record({ bench: "sustained", measure: "30 fps 640x480 RGBA: frames handled / sent (no backlog)", value: `${raw.handled}/${raw.sent}`, baseline: { label: "no backlog?", value: String(raw.noBacklog) } });
record({
  bench: "sustained",
  measure: "30 fps 640x480 RGBA: runtime workerd CPU per frame (1 in 30 encoded)",
  value: raw.detail.runtime_cpu_ms_per_frame as number,
  unit: "ms",
  baseline: { label: "proxy workerd", value: raw.detail.proxy_cpu_ms_per_frame as number, unit: "ms" },
});
