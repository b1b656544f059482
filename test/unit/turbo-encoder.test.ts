/**
 * The libjpeg-turbo WASM encoder (src/media/codec/turbo-encoder.ts, codec/jpeg-turbo/): every input
 * format at the project's frame sizes, decoded again by @jsquash/jpeg's decoder (the simulator's),
 * checked for exact dimensions, pixel error, a baseline 4:2:0 frame header, monotonic quality, clean
 * errors that leave the encoder working, and no memory growth over repeated encodes.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import decode, { init as initDecoder } from "@jsquash/jpeg/decode.js";
import { encode, init, inputByteLength, JpegEncodeError, type TurboPixelFormat } from "../../src/media/codec/turbo-encoder";
import { selftestModule, testing } from "../support/turbo-testing";
import { readJpegHeader } from "../../src/media/jpeg-markers";
import { toRgba } from "../support/pixels";
import { cameraFrame, type Frame } from "../../bench/camera-frame";

const require = createRequire(import.meta.url);
const LIMITS = { maxWidth: 16384, maxHeight: 16384, maxPixels: 16384 * 16384 };
const FORMATS: TurboPixelFormat[] = ["RGBA", "RGB24", "I420"];

beforeAll(async () => {
  init(selftestModule); // the production encoder plus a test hook (test/support/turbo-testing.ts)
  const decoderWasm = await WebAssembly.compile(readFileSync(require.resolve("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm")));
  await (initDecoder as unknown as (m: WebAssembly.Module) => Promise<void>)(decoderWasm);
});

async function decodeJpeg(bytes: Uint8Array): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
  const image = await decode(bytes.slice().buffer);
  return { width: image.width, height: image.height, data: image.data };
}

function pixelsOf(frame: Frame, format: TurboPixelFormat): Uint8Array {
  return format === "RGBA" ? frame.rgba : format === "RGB24" ? frame.rgb : frame.i420;
}

/** What the frame looks like in RGB: I420 through the reference BT.601 conversion (test/support/pixels.ts). */
function referenceRgba(frame: Frame, format: TurboPixelFormat): Uint8Array | Uint8ClampedArray {
  return format === "I420" ? toRgba("I420", frame.width, frame.height, frame.i420, LIMITS) : frame.rgba;
}

/** PSNR over R, G, B in dB. */
function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c]! - b[i + c]!;
      sum += d * d;
      n++;
    }
  }
  return 10 * Math.log10((255 * 255) / (sum / n));
}

/** The SOF0 segment's component sampling factors, or null when the frame is not SOF0. */
function sof0(bytes: Uint8Array): { components: Array<[id: number, sampling: number]> } | null {
  for (let i = 2; i + 3 < bytes.length; ) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (marker === 0xc0) {
      const count = bytes[i + 9]!;
      const components: Array<[number, number]> = [];
      for (let c = 0; c < count; c++) components.push([bytes[i + 10 + c * 3]!, bytes[i + 11 + c * 3]!]);
      return { components };
    }
    if (marker === 0xda) return null;
    i += 2 + length;
  }
  return null;
}

const smooth = new Map<string, Frame>();
function smoothFrame(width: number, height: number): Frame {
  const key = `${width}x${height}`;
  let frame = smooth.get(key);
  if (!frame) smooth.set(key, (frame = cameraFrame(width, height, 3, 0)));
  return frame;
}

describe("turbo-encoder: formats and sizes, decoded again by @jsquash/jpeg", () => {
  for (const [width, height] of [[640, 480], [1280, 720], [1920, 1080]] as const) {
    for (const format of FORMATS) {
      it(`${format} ${width}x${height} q75 -> baseline 4:2:0, exact size, PSNR > 30 dB`, async () => {
        const frame = smoothFrame(width, height);
        const jpeg = encode(pixelsOf(frame, format), width, height, format, 75);
        const header = readJpegHeader(jpeg);
        expect(header).toEqual({ width, height, progressive: false });
        // Y sampled 2x2, Cb and Cr 1x1: 4:2:0.
        expect(sof0(jpeg)).toEqual({ components: [[1, 0x22], [2, 0x11], [3, 0x11]] });
        expect([jpeg[jpeg.length - 2], jpeg[jpeg.length - 1]]).toEqual([0xff, 0xd9]);
        const decoded = await decodeJpeg(jpeg);
        expect([decoded.width, decoded.height]).toEqual([width, height]);
        expect(psnr(decoded.data, referenceRgba(frame, format))).toBeGreaterThan(30);
      });
    }
  }

  it("the SIMD128 build encodes byte for byte as libjpeg-turbo's portable C code does", () => {
    // Recorded from the module built with JT_SIMD=0 (codec/jpeg-turbo/build.sh): jsimd-wasm.c's
    // DCT and quantiser must change the speed, never the output. Covers edge blocks (641x479, 33x17).
    const golden: Record<string, string> = {
      "640x480 q75 RGBA": "68612dadca71ae0a", "640x480 q75 I420": "2c98ca62a9e62992",
      "641x479 q90 RGBA": "709f56209e322f6f", "641x479 q90 I420": "e2b1510badff4efa",
      "33x17 q30 RGBA": "07b958dfdbc07372", "33x17 q30 I420": "8a00ab5ec8770feb",
    };
    for (const [width, height, quality] of [[640, 480, 75], [641, 479, 90], [33, 17, 30]] as const) {
      const frame = cameraFrame(width, height, 7);
      for (const format of ["RGBA", "I420"] as const) {
        const jpeg = encode(pixelsOf(frame, format), width, height, format, quality);
        const key = `${width}x${height} q${quality} ${format}`;
        expect(createHash("sha256").update(jpeg).digest("hex").slice(0, 16), key).toBe(golden[key]);
      }
    }
  });

  it("white noise at q100, q50 and q1 (long codes, 0xFF stuffing, output buffer growth) matches the C build too", () => {
    let state = 12345;
    const noise = new Uint8Array(320 * 240 * 4).map(() => {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state & 255;
    });
    const golden: Record<number, [number, string]> = { 100: [152_574, "8ebb8d434900850d"], 50: [32_107, "f3abec1be47b6065"], 1: [4_076, "67adcacea9e1a90e"] };
    for (const [quality, [length, hash]] of Object.entries(golden)) {
      const jpeg = encode(noise, 320, 240, "RGBA", Number(quality));
      expect([jpeg.length, createHash("sha256").update(jpeg).digest("hex").slice(0, 16)], `q${quality}`).toEqual([length, hash]);
    }
  });

  it("RGBA and RGB24 of the same pixels give the same JPEG", () => {
    const frame = smoothFrame(640, 480);
    expect(encode(frame.rgba, 640, 480, "RGBA", 75)).toEqual(encode(frame.rgb, 640, 480, "RGB24", 75));
  });

  it("odd and tiny sizes in every format decode at their exact size", async () => {
    for (const [width, height] of [[1, 1], [2, 2], [3, 5], [17, 9], [641, 479], [33, 1]] as const) {
      const frame = cameraFrame(width, height, 5, 0);
      for (const format of FORMATS) {
        const jpeg = encode(pixelsOf(frame, format), width, height, format, 80);
        const decoded = await decodeJpeg(jpeg);
        expect([decoded.width, decoded.height], `${format} ${width}x${height}`).toEqual([width, height]);
        // Scaled down to a few pixels, the scene is all edges: a lower bar (sharp's native encoder
        // scores the same on these: 25.9 dB at 17x9 q80).
        if (width * height >= 64) expect(psnr(decoded.data, referenceRgba(frame, format))).toBeGreaterThan(width * height >= 1000 ? 30 : 24);
      }
    }
  });

  it("I420 in full range (i420Range: full) is taken as JFIF YCbCr as it is", async () => {
    const width = 64, height = 48;
    const i420 = new Uint8Array(inputByteLength("I420", width, height));
    i420.fill(255, 0, width * height); // Y 255, Cb = Cr = 128 (set below): white in full range
    i420.fill(128, width * height);
    const full = await decodeJpeg(encode(i420, width, height, "I420", 90, { i420Range: "full" }));
    expect(Math.min(...full.data.subarray(0, 12))).toBeGreaterThanOrEqual(253);
    i420.fill(235, 0, width * height); // video white
    const limited = await decodeJpeg(encode(i420, width, height, "I420", 90));
    expect(Math.min(...limited.data.subarray(0, 12))).toBeGreaterThanOrEqual(253);
  });

  it("quality changes the size monotonically", () => {
    const frame = cameraFrame(640, 480, 9);
    const sizes = [5, 20, 40, 60, 75, 85, 95, 100].map((q) => encode(frame.rgba, 640, 480, "RGBA", q).length);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!, `sizes ${sizes.join(",")}`).toBeGreaterThan(sizes[i - 1]!);
    // Quality 0 is quality 1, as in libjpeg.
    expect(encode(frame.rgba, 640, 480, "RGBA", 0)).toEqual(encode(frame.rgba, 640, 480, "RGBA", 1));
  });

  it("a camera-like frame at q75 is a realistic size (0.3-1.5 bit/pixel)", () => {
    const frame = cameraFrame(640, 480, 1);
    const bits = encode(frame.rgba, 640, 480, "RGBA", 75).length * 8;
    expect(bits / (640 * 480)).toBeGreaterThan(0.3);
    expect(bits / (640 * 480)).toBeLessThan(1.5);
  });
});

describe("turbo-encoder: bad input throws a JpegEncodeError and leaves the encoder working", () => {
  const frame = cameraFrame(64, 48, 2);
  const good = (): Uint8Array => encode(frame.rgba, 64, 48, "RGBA", 75);

  function expectCode(fn: () => unknown, code: string): void {
    let thrown: unknown;
    try {
      fn();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(JpegEncodeError);
    expect((thrown as JpegEncodeError).code).toBe(code);
  }

  it("bad dimensions, sizes, qualities and formats", () => {
    const reference = good();
    const sp = testing.stackPointer();
    for (const [w, h] of [[0, 48], [64, 0], [-1, 48], [64.5, 48], [Number.NaN, 48], [16385, 1], [1, 1e9]] as const) {
      expectCode(() => encode(frame.rgba, w, h, "RGBA", 75), "bad_dimensions");
    }
    expectCode(() => encode(frame.rgba.subarray(1), 64, 48, "RGBA", 75), "bad_frame_size");
    expectCode(() => encode(frame.rgb, 64, 48, "RGBA", 75), "bad_frame_size");
    expectCode(() => encode(new Uint8Array(64 * 48 * 4 + 1), 64, 48, "RGBA", 75), "bad_frame_size");
    expectCode(() => encode(frame.i420.subarray(0, frame.i420.length - 1), 64, 48, "I420", 75), "bad_frame_size");
    expectCode(() => encode(new Uint8Array(0), 1, 1, "RGB24", 75), "bad_frame_size");
    expectCode(() => encode([1, 2, 3] as unknown as Uint8Array, 1, 1, "RGB24", 75), "bad_frame_size");
    for (const q of [-1, 101, Number.NaN, Number.POSITIVE_INFINITY, "75" as unknown as number]) {
      expectCode(() => encode(frame.rgba, 64, 48, "RGBA", q), "bad_quality");
    }
    expectCode(() => encode(frame.rgba, 64, 48, "BGRA" as TurboPixelFormat, 75), "bad_format");
    expect(testing.stackPointer()).toBe(sp);
    expect(good()).toEqual(reference);
  });

  it("a failure inside libjpeg-turbo (as out of memory) unwinds cleanly: stack restored, next encode identical", () => {
    const reference = good();
    const sp = testing.stackPointer();
    for (let i = 0; i < 50; i++) expectCode(() => testing.forceAbort(), "encoder_failed");
    expect(testing.stackPointer()).toBe(sp);
    expect(good()).toEqual(reference);
    const big = cameraFrame(640, 480, 4);
    expect(readJpegHeader(encode(big.i420, 640, 480, "I420", 75))).toEqual({ width: 640, height: 480, progressive: false });
  });

  it("a frame too large for the WASM memory (64 MB) is refused, and the encoder works again at its normal size", () => {
    const reference = good();
    const normal = testing.memoryBytes();
    // 4200 x 4200 RGBA is 70.6 MB: more than the module's memory may grow to.
    const huge = new Uint8Array(inputByteLength("RGBA", 4200, 4200));
    expectCode(() => encode(huge, 4200, 4200, "RGBA", 75), "encoder_failed");
    // 3000 x 3000 I420 (13.5 MB) fits, and 6000 x 6000 I420 (54 MB in, 18 MB out) does not.
    expect(readJpegHeader(encode(new Uint8Array(inputByteLength("I420", 3000, 3000)), 3000, 3000, "I420", 75)).width).toBe(3000);
    expectCode(() => encode(new Uint8Array(inputByteLength("I420", 6000, 6000)), 6000, 6000, "I420", 75), "encoder_failed");
    expect(good()).toEqual(reference);
    expect(testing.memoryBytes()).toBeLessThanOrEqual(Math.max(normal, 8 << 20));
  });
});

describe("turbo-encoder: memory", () => {
  it("no memory growth over 200 encodes of mixed sizes and formats", { timeout: 15_000 }, () => {
    const frames = [cameraFrame(640, 480, 11), cameraFrame(320, 240, 12)];
    const run = (i: number): void => {
      const frame = frames[i % 2]!;
      const format = FORMATS[i % 3]!;
      encode(pixelsOf(frame, format), frame.width, frame.height, format, 60 + (i % 30));
    };
    for (let i = 0; i < 12; i++) run(i); // warm-up: every buffer at its largest
    const before = testing.memoryBytes();
    const sp = testing.stackPointer();
    for (let i = 0; i < 200; i++) run(i);
    expect(testing.memoryBytes()).toBe(before);
    expect(testing.stackPointer()).toBe(sp);
  });
});
