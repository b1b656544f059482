/**
 * JPEG encode inside workerd (issue 13 item 1: the project's encoder in the real runtime next to
 * native libjpeg-turbo, goal <= 2x at 640x480 q75), on the same pixels:
 *
 *  - inside workerd: a real `wrangler dev` (VIDEO_NORMAL_FPS = 30) receives RGBA frames spaced so
 *    that every one is sampled and encoded by src/media/jpeg.ts (whatever encoder it uses), then the
 *    same frames back to back so that all but the first are skipped. The runtime process's CPU per
 *    frame (/proc) of the first minus that of the second is the conversion-free encode + FrameRequest
 *    cost; the counters from the snapshot confirm how many frames each phase encoded. The wall time
 *    from the client's send to the FrameRequest's arrival at the fake upstream is shown too.
 *  - in Node: the same encodeJpeg, and sharp (native libvips + libjpeg-turbo API) when it can be
 *    loaded (it is not a declared dependency; miniflare brings it).
 */
import { cameraRgba, helloMessage, videoMessage } from "./lib/media.js";
import { cpuMeter, startLive, until, waitShares } from "./lib/live.js";
import { encodeJpeg } from "../src/media/jpeg.js";
import { median, pick, record, sleep, table, timeAsyncMs } from "./harness.js";

const SIZES = [
  [640, 480],
  [1280, 720],
] as const;
const FRAMES = pick(20, 3);
const QUALITY = 75;

type SharpFactory = (input: Uint8Array, options: { raw: { width: number; height: number; channels: 4 } }) => { jpeg(o: { quality: number }): { toBuffer(): Promise<Buffer> } };

async function loadSharp(): Promise<SharpFactory | null> {
  try {
    const mod = (await import("sharp" as string)) as { default: SharpFactory & { concurrency?(n: number): number } };
    mod.default.concurrency?.(1);
    return mod.default;
  } catch {
    return null;
  }
}

interface Row {
  size: string;
  workerdMs: number;
  workerdWallMs: number;
  nodeMs: number;
  sharpMs: number | null;
  bytes: number;
  wait: string;
}

const sharp = await loadSharp();
const rows: Row[] = [];
const stack = await startLive({ vars: { VIDEO_NORMAL_FPS: "30", VIDEO_BURST_FPS: "30" } });
try {
  for (const [w, h] of SIZES) {
    const pixels = cameraRgba(w, h, 9);
    const message = videoMessage({ format: "RGBA", width: w, height: h, data: new Uint8Array(pixels.buffer) });
    const pid = `encode-${w}x${h}-${Date.now().toString(36)}`;
    const client = await stack.connect(pid);
    client.sendRaw(helloMessage("bench-encode"));
    client.sendRaw(message);
    if (!(await until(() => stack.fake.knows(pid), 30_000))) throw new Error("the first frame never reached the upstream");
    await sleep(500);

    // Phase 1: every frame sampled and encoded (spaced well beyond 1/30 s and beyond an encode).
    const s0 = await stack.snapshot(pid);
    const m1 = cpuMeter(stack);
    const wall: number[] = [];
    for (let i = 0; i < FRAMES; i++) {
      const from = stack.fake.frames.length;
      const t0 = Date.now();
      client.sendRaw(message);
      await until(() => stack.fake.frames.slice(from).some((f) => f.participantId === pid), 10_000, 1);
      wall.push((stack.fake.frames.slice(from).find((f) => f.participantId === pid)?.atMs ?? Number.NaN) - t0);
      await sleep(100);
    }
    const used1 = m1.read();
    const s1 = await stack.snapshot(pid);

    // Phase 2: the same frames back to back: the first is sampled, the rest skipped.
    const m2 = cpuMeter(stack);
    for (let i = 0; i < FRAMES; i++) client.sendRaw(message);
    const before = client.ofType("error").length;
    client.sendRaw("probe");
    await until(() => client.ofType("error").length > before, 30_000, 5);
    await sleep(300);
    const used2 = m2.read();
    const s2 = await stack.snapshot(pid);

    const sampled1 = s1.counters.frames_sampled - s0.counters.frames_sampled;
    const sampled2 = s2.counters.frames_sampled - s1.counters.frames_sampled;
    // Frames that arrive while the first one encodes are dropped as busy: no pixel work either.
    const skipped2 = s2.counters.frames_skipped - s1.counters.frames_skipped + (s2.counters.frames_busy - s1.counters.frames_busy);
    if (sampled1 !== FRAMES) throw new Error(`phase 1 encoded ${sampled1} of ${FRAMES} frames`);
    const perSampled = used1.runtimeMs / FRAMES;
    const perSkipped = skipped2 > 0 ? (used2.runtimeMs - perSampled * sampled2) / skipped2 : 0;
    await client.close();

    let bytes = 0;
    const nodeRuns = [];
    for (let r = 0; r < pick(3, 1); r++) nodeRuns.push(await timeAsyncMs(pick(10, 2), async () => void (bytes = (await encodeJpeg(new Uint8Array(pixels.buffer), w, h, "RGBA", QUALITY)).byteLength)));
    let sharpMs: number | null = null;
    if (sharp) {
      const input = new Uint8Array(pixels.buffer);
      const runs = [];
      for (let r = 0; r < pick(3, 1); r++) runs.push(await timeAsyncMs(pick(20, 2), () => sharp(input, { raw: { width: w, height: h, channels: 4 } }).jpeg({ quality: QUALITY }).toBuffer()));
      sharpMs = median(runs);
    }
    rows.push({ size: `${w}x${h}`, workerdMs: perSampled - perSkipped, workerdWallMs: median(wall), nodeMs: median(nodeRuns), sharpMs, bytes, wait: waitShares(used1) });
  }
} finally {
  await stack.stop();
}

table(`JPEG encode q${QUALITY}, RGBA camera-like frame: the project's encoder inside workerd vs in Node vs native (sharp)`, [
  "size", "workerd CPU ms (encode + send)", "workerd send -> upstream ms (wall)", "Node encodeJpeg ms", "sharp native ms", "workerd / native", "waiting for a core",
], rows.map((r) => [r.size, r.workerdMs, r.workerdWallMs, r.nodeMs, r.sharpMs ?? "n/a", r.sharpMs ? `${(r.workerdMs / r.sharpMs).toFixed(1)}x` : "n/a", r.wait]));
for (const r of rows) {
  record({
    bench: "encode",
    measure: `JPEG encode ${r.size} q${QUALITY} inside workerd (CPU)`,
    value: r.workerdMs,
    unit: "ms",
    baseline: r.sharpMs ? { label: "sharp native, Node", value: r.sharpMs, unit: "ms" } : { label: "Node encodeJpeg", value: r.nodeMs, unit: "ms" },
    goal: r.size === "640x480" ? "<= 2.0x native" : undefined,
    met: r.size === "640x480" && r.sharpMs ? r.workerdMs / r.sharpMs <= 2 : undefined,
    detail: { ...r, ratio_vs_native: r.sharpMs ? r.workerdMs / r.sharpMs : null },
  });
}
