/**
 * JPEG encoding, ms per frame at 640x480 and 1280x720 q75 on a camera-like frame, side by side in
 * one run on the same pixels:
 *   - the libjpeg-turbo WASM encoder (src/media/codec/turbo-encoder.ts) inside workerd, the real
 *     runtime (Miniflare), and in Node
 *   - @jsquash/jpeg (mozjpeg WASM, progressive off), the encoder src/media/jpeg.ts uses today
 *   - native: sharp (libvips + libjpeg-turbo-compatible mozjpeg with SIMD, fastest profile) in
 *     Node, with its defaults (Huffman optimisation on) and with the same profile as ours
 *     (optimiseCoding off); the ratio is taken against the faster native figure
 *   - the input formats of the new encoder (RGBA, RGB24, I420 raw), against converting to RGBA
 *     first with test/support/pixels.ts
 *
 * workerd's clocks advance only on I/O, so the in-isolate time of a batch is checked against the
 * round trip of the request that ran it: ms/frame = (round trip of N encodes - round trip of 0) / N.
 * BENCH_SMOKE=1 runs one short round of each. Writes test-artifacts/bench/jpeg.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import sharp from "sharp";
import jsquashEncode, { init as initJsquash } from "@jsquash/jpeg/encode.js";
import { encode, init } from "../src/media/codec/turbo-encoder.js";
import { toRgba } from "../test/support/pixels.js";
import { cameraFrame, type Frame } from "./camera-frame.js";
import { loadJsquashWasm, median, medianMs, projectRoot, SMOKE, table } from "./harness.js";

const QUALITY = 75;
const SIZES = [
  [640, 480],
  [1280, 720],
] as const;
const LIMITS = { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 };
const ROUNDS = SMOKE ? 1 : 7;
/** Encodes per round, by encoder speed class. */
const PER_ROUND = { fast: SMOKE ? 1 : 15, slow: SMOKE ? 1 : 3 };

const root = projectRoot();
const wasmPath = join(root, "src", "media", "codec", "jpeg-turbo.wasm");
const wasmBytes = readFileSync(wasmPath);
init(new WebAssembly.Module(wasmBytes));
await (initJsquash as unknown as (m: WebAssembly.Module) => Promise<void>)(await loadJsquashWasm("enc/mozjpeg_enc.wasm"));

// --- workerd ----------------------------------------------------------------------------------
const workerBundle = await build({
  entryPoints: [join(root, "bench", "workerd", "turbo-worker.ts")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  write: false,
  external: ["*.wasm"],
  logLevel: "error",
});
const workerSource = workerBundle.outputFiles[0]!.text.replace(/from\s+"[^"]*jpeg-turbo\.wasm"/, 'from "./jpeg-turbo.wasm"');
const mf = new Miniflare({
  compatibilityDate: "2026-05-01",
  modules: [
    { type: "ESModule", path: join(root, "turbo-worker.mjs"), contents: workerSource },
    { type: "CompiledWasm", path: join(root, "jpeg-turbo.wasm"), contents: wasmBytes },
  ],
});

interface WorkerdTiming {
  bytes: number;
  elapsedMs: number;
  elapsedDateMs: number;
  roundTripMs: number;
}

async function workerdEncode(frame: Frame, iterations: number): Promise<WorkerdTiming> {
  const url = `http://bench/encode?width=${frame.width}&height=${frame.height}&format=RGBA&quality=${QUALITY}&iterations=${iterations}`;
  const start = performance.now();
  const response = await mf.dispatchFetch(url, { method: "POST", body: frame.rgba });
  const body = (await response.json()) as Omit<WorkerdTiming, "roundTripMs">;
  return { ...body, roundTripMs: performance.now() - start };
}

interface Row {
  size: string;
  turboWorkerdMs: number;
  turboWorkerdInIsolateMs: number | null;
  turboNodeMs: number;
  jsquashNodeMs: number;
  sharpDefaultMs: number;
  sharpSameProfileMs: number;
  bytes: { turbo: number; jsquash: number; sharpDefault: number; sharpSameProfile: number };
}

const rows: Row[] = [];
const formatRows: Array<Array<string | number>> = [];
let clockNote = "";
try {
  for (const [width, height] of SIZES) {
    const frame = cameraFrame(width, height, 1);
    const raw = { raw: { width, height, channels: 4 as const } };
    const sharpEncode = (optimiseCoding: boolean): Promise<Buffer> =>
      sharp(frame.rgba, raw).jpeg({ quality: QUALITY, chromaSubsampling: "4:2:0", progressive: false, optimiseCoding }).toBuffer();
    const image = { data: new Uint8ClampedArray(frame.rgba.buffer), width, height, colorSpace: "srgb" } as unknown as ImageData;

    const bytes = {
      turbo: encode(frame.rgba, width, height, "RGBA", QUALITY).length,
      jsquash: (await jsquashEncode(image, { quality: QUALITY, progressive: false })).byteLength,
      sharpDefault: (await sharpEncode(true)).length,
      sharpSameProfile: (await sharpEncode(false)).length,
    };

    // Interleaved rounds: each encoder is timed once per round, the median of rounds is kept.
    const per = PER_ROUND.fast;
    const samples = { workerd: [] as number[], inIsolate: [] as number[], node: [] as number[], jsquash: [] as number[], sharpDefault: [] as number[], sharpSame: [] as number[] };
    await workerdEncode(frame, 2); // warm-up: instantiate and tier up
    for (let r = 0; r < ROUNDS; r++) {
      const empty = await workerdEncode(frame, 0);
      const batch = await workerdEncode(frame, per);
      samples.workerd.push((batch.roundTripMs - empty.roundTripMs) / per);
      samples.inIsolate.push(batch.elapsedMs / per);
      samples.node.push(await medianMs(1, per, () => encode(frame.rgba, width, height, "RGBA", QUALITY)));
      samples.sharpDefault.push(await medianMs(1, per, () => sharpEncode(true)));
      samples.sharpSame.push(await medianMs(1, per, () => sharpEncode(false)));
      samples.jsquash.push(await medianMs(1, PER_ROUND.slow, () => jsquashEncode(image, { quality: QUALITY, progressive: false })));
    }
    const inIsolate = median(samples.inIsolate);
    // performance.now() inside workerd may stand still during a synchronous batch: report it only if it moved.
    if (inIsolate === 0) clockNote = "performance.now() did not advance inside the isolate during a batch: workerd figures are round trips";
    rows.push({
      size: `${width}x${height}`,
      turboWorkerdMs: median(samples.workerd),
      turboWorkerdInIsolateMs: inIsolate > 0 ? inIsolate : null,
      turboNodeMs: median(samples.node),
      jsquashNodeMs: median(samples.jsquash),
      sharpDefaultMs: median(samples.sharpDefault),
      sharpSameProfileMs: median(samples.sharpSame),
      bytes,
    });

    // Input formats of the new encoder (Node): direct, and through pixels.ts to RGBA first.
    const direct = (format: "RGBA" | "RGB24" | "I420", data: Uint8Array) => () => encode(data, width, height, format, QUALITY);
    const viaRgba = (format: "RGB24" | "I420", data: Uint8Array) => () => encode(new Uint8Array(toRgba(format, width, height, data, LIMITS).buffer), width, height, "RGBA", QUALITY);
    const convert = (format: "RGB24" | "I420", data: Uint8Array) => () => toRgba(format, width, height, data, LIMITS);
    formatRows.push(
      [`${width}x${height} RGBA`, await medianMs(ROUNDS, per, direct("RGBA", frame.rgba)), "-", "-"],
      [`${width}x${height} RGB24`, await medianMs(ROUNDS, per, direct("RGB24", frame.rgb)), await medianMs(ROUNDS, per, viaRgba("RGB24", frame.rgb)), await medianMs(ROUNDS, per, convert("RGB24", frame.rgb))],
      [`${width}x${height} I420`, await medianMs(ROUNDS, per, direct("I420", frame.i420)), await medianMs(ROUNDS, per, viaRgba("I420", frame.i420)), await medianMs(ROUNDS, per, convert("I420", frame.i420))],
    );
  }
} finally {
  await mf.dispose();
}

const ratio = (ms: number, native: number): string => `${(ms / native).toFixed(2)}x`;
const title = `JPEG encode q${QUALITY}, camera-like frame, ms/frame (median of ${ROUNDS} rounds; Node ${process.version}, sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips})`;
const header = ["encoder", ...rows.map((r) => r.size), ...rows.map((r) => `${r.size} vs native`), ...rows.map((r) => `${r.size} bytes`)];
const native = rows.map((r) => Math.min(r.sharpDefaultMs, r.sharpSameProfileMs));
const line = (name: string, pick: (r: Row) => number | null, bytes: (r: Row) => number | string): Array<string | number> => [
  name,
  ...rows.map((r) => pick(r) ?? "n/a"),
  ...rows.map((r, i) => {
    const v = pick(r);
    return v === null ? "n/a" : ratio(v, native[i]!);
  }),
  ...rows.map(bytes),
];
table(title, header, [
  line("libjpeg-turbo WASM, in workerd (round trip) [ours]", (r) => r.turboWorkerdMs, (r) => r.bytes.turbo),
  line("libjpeg-turbo WASM, in workerd (in-isolate clock)", (r) => r.turboWorkerdInIsolateMs, (r) => r.bytes.turbo),
  line("libjpeg-turbo WASM, in Node", (r) => r.turboNodeMs, (r) => r.bytes.turbo),
  line("@jsquash/jpeg (mozjpeg WASM, progressive off) [current]", (r) => r.jsquashNodeMs, (r) => r.bytes.jsquash),
  line("sharp native, optimiseCoding off (our profile) [native]", (r) => r.sharpSameProfileMs, (r) => r.bytes.sharpSameProfile),
  line("sharp native, defaults (optimiseCoding on)", (r) => r.sharpDefaultMs, (r) => r.bytes.sharpDefault),
]);
if (clockNote) console.log(`  note: ${clockNote}`);
console.log("  native = the faster sharp row; goal: ours in workerd <= 2.00x native at 640x480");

table(`libjpeg-turbo WASM by input format (Node), ms/frame`, ["input", "encode directly", "pixels.ts toRgba + encode RGBA", "toRgba alone"], formatRows);

const outDir = join(root, "test-artifacts", "bench");
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, "jpeg.json"),
  JSON.stringify({ node: process.version, sharp: sharp.versions, quality: QUALITY, rounds: ROUNDS, smoke: SMOKE, rows, formats: formatRows }, null, 2) + "\n",
);
