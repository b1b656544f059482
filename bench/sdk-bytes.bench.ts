/**
 * Uplink bytes of the client SDK honouring the announced rate vs a naive client that sends every
 * camera frame (30 fps), over 60 s of simulated time with the same frames. Offline: the real SDK
 * (DeepfakeEdgeClient) on a fake clock and a fake socket that counts the bytes handed to it, so the
 * figures are exact protobuf message sizes, not estimates. No server needed.
 *
 *   npm run bench            (all benchmarks)
 *   node scripts/bench.mjs sdk-bytes
 */
import encode, { init } from "@jsquash/jpeg/encode.js";
import { DeepfakeEdgeClient } from "../src/client/client.js";
import type { WebSocketLike } from "../src/client/socket.js";
import type { PixelFormatName } from "../src/client/messages.js";
import { VIDEO_BURST_FPS, VIDEO_NORMAL_FPS } from "../src/config/limits.js";
import { loadJsquashWasm, record, table } from "./harness.js";

const W = 640;
const H = 480;
const CAMERA_FPS = 30;
const DURATION_MS = 60_000;
/** Distinct frames, cycled (encoding 1800 JPEGs would only slow the benchmark down). */
const DISTINCT_FRAMES = 30;

function cameraLikeRgb(seed: number): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      rgb[i] = (x + seed * 3) & 255;
      rgb[i + 1] = (y * 2 + ((x * y) >> 9)) & 255;
      rgb[i + 2] = (128 + 60 * Math.sin((x + y + seed * 5) / 23)) & 255;
    }
  }
  return rgb;
}

async function jpegOf(rgb: Uint8Array): Promise<Uint8Array> {
  const rgba = new Uint8ClampedArray(W * H * 4);
  for (let p = 0; p < W * H; p++) {
    rgba[p * 4] = rgb[p * 3]!;
    rgba[p * 4 + 1] = rgb[p * 3 + 1]!;
    rgba[p * 4 + 2] = rgb[p * 3 + 2]!;
    rgba[p * 4 + 3] = 255;
  }
  const image = { data: rgba, width: W, height: H, colorSpace: "srgb" } as unknown as Parameters<typeof encode>[0];
  return new Uint8Array(await encode(image, { quality: 85, progressive: false }));
}

/** Counts what the SDK hands to the socket. */
class CountingSocket implements WebSocketLike {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = "arraybuffer";
  bytes = 0;
  messages = 0;
  #listeners = new Map<string, Array<(event: never) => void>>();
  send(data: Uint8Array): void {
    this.bytes += data.byteLength;
    this.messages++;
  }
  close(): void {
    this.readyState = 3;
  }
  addEventListener(type: string, listener: (event: never) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }
  fire(type: string, event: object): void {
    for (const listener of this.#listeners.get(type) ?? []) (listener as (e: object) => void)(event);
  }
}

interface Run {
  frames: number;
  bytes: number;
}

/** One client streaming the camera for DURATION_MS; the server announced `announcedFps`. */
async function run(frames: Uint8Array[], format: PixelFormatName, announcedFps: number, honorRate: boolean): Promise<Run> {
  let now = 0;
  const socket = new CountingSocket();
  const client = new DeepfakeEdgeClient({
    baseUrl: "http://bench.local",
    participantId: "bench",
    socketFactory: () => socket,
    honorRate,
    reconnect: false,
    probeAuth: false,
    timers: { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined },
  });
  void client.connect();
  await Promise.resolve();
  await Promise.resolve();
  socket.readyState = 1;
  socket.fire("open", {});
  socket.fire("message", {
    data: JSON.stringify({ type: "ready", participant_id: "bench", level: "clear", video_fps: announcedFps, simulated: true, dev_mode: true }),
  });
  const helloBytes = socket.bytes;
  const total = (DURATION_MS / 1000) * CAMERA_FPS;
  for (let i = 0; i < total; i++) {
    now = (i * 1000) / CAMERA_FPS;
    client.sendVideo({ trackId: "camera", width: W, height: H, format, data: frames[i % frames.length]!, timestampMs: now });
  }
  const stats = client.stats;
  client.close();
  return { frames: stats.sent.videoFrames, bytes: socket.bytes - helloBytes };
}

await (init as unknown as (m: WebAssembly.Module) => Promise<void>)(await loadJsquashWasm("enc/mozjpeg_enc.wasm"));
const rgbFrames = Array.from({ length: DISTINCT_FRAMES }, (_, i) => cameraLikeRgb(i));
const jpegFrames = await Promise.all(rgbFrames.map(jpegOf));
const avgJpeg = Math.round(jpegFrames.reduce((n, f) => n + f.byteLength, 0) / jpegFrames.length);

const rows: Array<Array<string | number>> = [];
for (const [label, frames, format] of [
  [`JPEG ${W}x${H} (avg ${avgJpeg.toLocaleString("en-US")} B, browser playground)`, jpegFrames, "JPEG"],
  [`RGB24 ${W}x${H} (${(W * H * 3).toLocaleString("en-US")} B, media bot)`, rgbFrames, "RGB24"],
] as const) {
  const naive = await run(frames, format, VIDEO_NORMAL_FPS, false);
  const clear = await run(frames, format, VIDEO_NORMAL_FPS, true);
  const burst = await run(frames, format, VIDEO_BURST_FPS, true);
  const mb = (b: number): string => `${(b / 1_000_000).toFixed(2)} MB`;
  const below = 1 - clear.bytes / naive.bytes;
  record({
    bench: "sdk-bytes",
    measure: `SDK client bandwidth in CLEAR, ${format} ${W}x${H} from a ${CAMERA_FPS} fps camera`,
    value: `${(below * 100).toFixed(2)} % below naive (${(naive.bytes / clear.bytes).toFixed(0)}x)`,
    baseline: { label: "naive client", value: mb(naive.bytes) },
    goal: ">= 95 % below naive",
    met: below >= 0.95,
    detail: { naive, clear, burst },
  });
  rows.push([label, `${naive.frames} / ${mb(naive.bytes)}`, `${clear.frames} / ${mb(clear.bytes)}`, `${(naive.bytes / clear.bytes).toFixed(0)}x`, `${burst.frames} / ${mb(burst.bytes)}`]);
}
table(
  `Uplink video bytes over ${DURATION_MS / 1000} s from a ${CAMERA_FPS} fps camera: SDK honouring the announced rate vs a naive client (frames / bytes)`,
  ["frames", `naive ${CAMERA_FPS} fps`, `SDK, CLEAR ${VIDEO_NORMAL_FPS} fps`, "saved", `SDK, SUSPICIOUS ${VIDEO_BURST_FPS} fps`],
  rows,
);
