/**
 * Video path costs per frame and upstream bandwidth, against baselines:
 *   - JPEG encoding with our options (baseline, progressive off) vs @jsquash/jpeg's defaults
 *   - pixel conversion per format
 *   - upstream bytes per minute with the adaptive sampler vs forwarding every frame
 */
import encode, { init } from "@jsquash/jpeg/encode.js";
import { encodeJpeg } from "../src/media/jpeg.js";
import { toRgba } from "../test/support/pixels.js";
import { VideoSampler } from "../src/shared/sampler.js";
import { cameraRgba } from "./lib/media.js";
import { loadJsquashWasm, median, pick, record, table, timeAsyncMs, timeMs } from "./harness.js";

const W = 640;
const H = 480;
const LIMITS = { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 };

function testImage(seed: number): Uint8Array {
  // A smooth gradient with some texture, closer to a camera frame than noise or a flat colour.
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      rgb[i] = (x + seed) & 255;
      rgb[i + 1] = (y * 2 + ((x * y) >> 9)) & 255;
      rgb[i + 2] = (128 + 60 * Math.sin((x + y + seed) / 23)) & 255;
    }
  }
  return rgb;
}

await (init as unknown as (m: WebAssembly.Module) => Promise<void>)(await loadJsquashWasm("enc/mozjpeg_enc.wasm"));
const rgb = testImage(7);
const rgba = toRgba("RGB24", W, H, rgb, LIMITS);
const image = { data: rgba, width: W, height: H, colorSpace: "srgb" } as unknown as Parameters<typeof encode>[0];

let oursBytes = 0;
let defaultBytes = 0;
const oursMs = await timeAsyncMs(20, async () => {
  oursBytes = (await encode(image, { quality: 75, progressive: false })).byteLength;
});
const defaultMs = await timeAsyncMs(20, async () => {
  defaultBytes = (await encode(image, { quality: 75 })).byteLength;
});
table(`JPEG encode ${W}x${H} q75 (mozjpeg WASM, Node ${process.version})`, ["options", "ms/frame", "bytes", "speed vs baseline"], [
  ["@jsquash defaults (progressive) [baseline]", defaultMs, defaultBytes, "1.00x"],
  ["ours: progressive false", oursMs, oursBytes, `${(defaultMs / oursMs).toFixed(2)}x`],
]);

// The project's encoder as the Worker calls it (src/media/jpeg.ts, whatever it uses), in Node.
const projectRows: Array<Array<string | number>> = [];
for (const [w, h] of [[640, 480], [1280, 720]] as const) {
  const pixels = cameraRgba(w, h, 7);
  let bytes = 0;
  const runs = [];
  for (let r = 0; r < pick(5, 1); r++) runs.push(await timeAsyncMs(pick(10, 2), async () => void (bytes = (await encodeJpeg(new Uint8Array(pixels.buffer), w, h, "RGBA", 75)).byteLength)));
  const ms = median(runs);
  projectRows.push([`${w}x${h}`, ms, bytes]);
  record({ bench: "video", measure: `encodeJpeg (src/media/jpeg.ts) ${w}x${h} q75, Node`, value: ms, unit: "ms", detail: { bytes } });
}
table(`The project's encoder (src/media/jpeg.ts encodeJpeg, q75) in Node ${process.version}: median of runs`, ["size", "ms/frame", "bytes"], projectRows);

const i420 = new Uint8Array(W * H + 2 * (W / 2) * (H / 2)).fill(120);
const rgbaIn = new Uint8Array(W * H * 4).fill(90);
table(`Pixel conversion to RGBA, ${W}x${H}`, ["input", "ms/frame"], [
  ["RGBA (view, no copy)", timeMs(200, () => toRgba("RGBA", W, H, rgbaIn, LIMITS))],
  ["RGB24", timeMs(100, () => toRgba("RGB24", W, H, rgb, LIMITS))],
  ["I420 (BT.601)", timeMs(100, () => toRgba("I420", W, H, i420, LIMITS))],
]);

// Upstream bandwidth for one participant streaming 15 fps for 60 s.
const SOURCE_FPS = 15;
const SECONDS = 60;
function framesTaken(fps: number): number {
  const sampler = new VideoSampler(fps);
  let taken = 0;
  for (let i = 0; i < SOURCE_FPS * SECONDS; i++) if (sampler.offer((i * 1000) / SOURCE_FPS)) taken++;
  return taken;
}
const clear = framesTaken(0.2);
const burst = framesTaken(1);
const all = SOURCE_FPS * SECONDS;
table(`Upstream per participant, ${SOURCE_FPS} fps camera for ${SECONDS} s (JPEG ~${oursBytes} B/frame)`, ["policy", "frames", "bytes", "encode CPU ms"], [
  ["forward every frame [baseline]", all, all * oursBytes, all * oursMs],
  ["adaptive, CLEAR 0.2 fps", clear, clear * oursBytes, clear * oursMs],
  ["adaptive, SUSPICIOUS 1 fps", burst, burst * oursBytes, burst * oursMs],
]);
