/**
 * The video path (docs/DESIGN.md §2, §3, §5): source filter -> validation -> sampler -> pixel
 * conversion -> JPEG, with the REAL libjpeg-turbo WASM encoder (the same codec the Worker uses), and the
 * output decoded again to check what Dataspike would see.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import decode, { init as initDecoder } from "@jsquash/jpeg/decode.js";
import { encode as encodeTurbo, init as initTurbo } from "../../src/media/codec/turbo-encoder";
import { VideoIngest, type JpegEncoder, type VideoFrameInput, type VideoIngestOptions } from "../../src/media/video-ingest";
import { readJpegHeader } from "../../src/media/jpeg-markers";
import { ClientInputError } from "../../src/protocol/client-messages";

type InitWithModule = (module: WebAssembly.Module) => Promise<void>;
const require = createRequire(import.meta.url);

async function compile(specifier: string): Promise<WebAssembly.Module> {
  return WebAssembly.compile(readFileSync(require.resolve(specifier)));
}

beforeAll(async () => {
  initTurbo(new WebAssembly.Module(readFileSync(new URL("../../src/media/codec/jpeg-turbo.wasm", import.meta.url))));
  await (initDecoder as unknown as InitWithModule)(await compile("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"));
});

/** Same call as src/media/jpeg.ts encodeJpeg, with the module loaded from the file. */
const encodeJpeg: JpegEncoder = async (pixels, width, height, format, quality) => encodeTurbo(pixels, width, height, format, quality);

async function decodeJpeg(bytes: Uint8Array): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
  const image = await decode(bytes.slice().buffer);
  return { width: image.width, height: image.height, data: image.data };
}

/** Mean R, G, B over the pixels of an RGBA image whose column lies in [fromX, toX). */
function meanRgb(image: { width: number; height: number; data: Uint8ClampedArray }, fromX = 0, toX = image.width): number[] {
  const sum = [0, 0, 0];
  let count = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = fromX; x < toX; x++) {
      const i = (y * image.width + x) * 4;
      for (let c = 0; c < 3; c++) sum[c]! += image.data[i + c]!;
      count++;
    }
  }
  return sum.map((s) => s / count);
}

function expectColourNear(actual: number[], expected: number[], tolerance = 6): void {
  expect(actual).toHaveLength(3);
  for (let c = 0; c < 3; c++) expect(Math.abs(actual[c]! - expected[c]!), `channel ${c}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}

/** RGB24 frame: left half one colour, right half another. */
function rgb24(width: number, height: number, left: number[], right = left): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return data;
}

function rgba(width: number, height: number, left: number[], right = left): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([...(x < width / 2 ? left : right), 255], (y * width + x) * 4);
  }
  return data;
}

function i420(width: number, height: number, y: number, u: number, v: number): Uint8Array {
  const luma = width * height;
  const chroma = Math.ceil(width / 2) * Math.ceil(height / 2);
  const data = new Uint8Array(luma + 2 * chroma);
  data.fill(y, 0, luma);
  data.fill(u, luma, luma + chroma);
  data.fill(v, luma + chroma);
  return data;
}

function frame(overrides: Partial<VideoFrameInput> = {}): VideoFrameInput {
  const width = overrides.width ?? 16;
  const height = overrides.height ?? 8;
  return {
    kind: "video",
    trackId: "camera",
    width,
    height,
    format: "RGB24",
    source: "camera",
    timestampMs: 0,
    data: rgb24(width, height, [120, 130, 140]),
    ...overrides,
  };
}

let encodeSpy: ReturnType<typeof vi.fn<JpegEncoder>>;

function ingest(overrides: Partial<VideoIngestOptions> = {}): VideoIngest {
  return new VideoIngest({
    fps: 1,
    jpegQuality: 75,
    limits: { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 },
    toleranceRatio: 0.25,
    maxTracks: 8,
    encode: encodeSpy,
    ...overrides,
  });
}

async function clientError(promise: Promise<unknown>): Promise<ClientInputError> {
  const err = await promise.then(
    () => {
      throw new Error("expected a ClientInputError");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientInputError);
  return err as ClientInputError;
}

beforeEach(() => {
  encodeSpy = vi.fn<JpegEncoder>(encodeJpeg);
});

describe("source filter", () => {
  it("screen frames come back as screen, are never encoded and use no sampler slot", async () => {
    const video = ingest();
    expect(await video.process(frame({ source: "screen" }), 0)).toEqual({ kind: "screen" });
    // Even invalid screen frames are dropped first, not rejected.
    expect(await video.process(frame({ source: "screen", data: new Uint8Array(3) }), 0)).toEqual({ kind: "screen" });
    expect(await video.process(frame({ source: "screen", format: "JPEG", data: new Uint8Array([1, 2]) }), 0)).toEqual({ kind: "screen" });
    expect(encodeSpy).not.toHaveBeenCalled();
    // The camera frame at the same instant is still the first one on the schedule.
    expect((await video.process(frame(), 0)).kind).toBe("jpeg");
  });

  it("screen frames on any number of track ids do not count against the track limit", async () => {
    const video = ingest({ maxTracks: 1 });
    for (let i = 0; i < 20; i++) expect(await video.process(frame({ source: "screen", trackId: `screen-${i}` }), 0)).toEqual({ kind: "screen" });
    expect((await video.process(frame({ trackId: "cam" }), 0)).kind).toBe("jpeg");
  });
});

describe("validation before sampling", () => {
  it("a wrong-size RGB24 frame is rejected with bad_frame_size before the sampler takes a slot", async () => {
    const video = ingest();
    const err = await clientError(video.process(frame({ width: 16, height: 8, data: new Uint8Array(16 * 8 * 3 - 1) }), 0));
    expect(err.code).toBe("bad_frame_size");
    expect(err.message).toContain("384");
    expect(encodeSpy).not.toHaveBeenCalled();
    // Had the bad frame consumed the slot at t=0, this one would be skipped.
    expect((await video.process(frame(), 0)).kind).toBe("jpeg");
  });

  it("RGBA sized as RGB24, and I420 with a missing chroma row, are bad_frame_size", async () => {
    const video = ingest();
    expect((await clientError(video.process(frame({ format: "RGBA", data: rgb24(16, 8, [0, 0, 0]) }), 0))).code).toBe("bad_frame_size");
    const short = i420(15, 9, 16, 128, 128).subarray(0, 15 * 9 + 2 * 8 * 4);
    expect((await clientError(video.process(frame({ format: "I420", width: 15, height: 9, data: short }), 0))).code).toBe("bad_frame_size");
  });

  it("zero or oversized dimensions map to bad_dimensions and frame_too_large", async () => {
    const video = ingest({ limits: { maxWidth: 64, maxHeight: 64, maxPixels: 64 * 64 } });
    expect((await clientError(video.process(frame({ width: 0, height: 8, data: new Uint8Array(0) }), 0))).code).toBe("bad_dimensions");
    expect((await clientError(video.process(frame({ width: 65, height: 1, data: rgb24(65, 1, [0, 0, 0]) }), 0))).code).toBe("frame_too_large");
    expect(encodeSpy).not.toHaveBeenCalled();
    expect((await video.process(frame(), 0)).kind).toBe("jpeg");
  });

  it("non-JPEG data claiming JPEG is rejected with bad_jpeg, before the sampler", async () => {
    const video = ingest();
    for (const data of [rgb24(16, 8, [1, 2, 3]), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]), new Uint8Array([0xff, 0xd8, 0xff, 0xe0])]) {
      expect((await clientError(video.process(frame({ format: "JPEG", data }), 0))).code).toBe("bad_jpeg");
    }
    // Right markers, but no frame header or scan: still refused.
    const hollow = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xd9]);
    expect((await clientError(video.process(frame({ format: "JPEG", data: hollow }), 0))).code).toBe("bad_jpeg");
    const jpeg = await encodeJpeg(new Uint8Array(rgba(8, 8, [9, 9, 9])), 8, 8, "RGBA", 75);
    expect(await video.process(frame({ format: "JPEG", data: jpeg }), 0)).toMatchObject({ kind: "jpeg", passthrough: true });
  });
});

describe("sampling", () => {
  it("converts and encodes only sampled frames: 10 fps for 3 s at 1 fps is 3 encodes", async () => {
    const video = ingest({ fps: 1, toleranceRatio: 0 });
    const kinds: string[] = [];
    for (let t = 0; t < 3000; t += 100) kinds.push((await video.process(frame({ timestampMs: t }), t)).kind);
    expect(kinds.filter((k) => k === "jpeg")).toHaveLength(3);
    expect(kinds.filter((k) => k === "skipped")).toHaveLength(27);
    expect([kinds[0], kinds[10], kinds[20]]).toEqual(["jpeg", "jpeg", "jpeg"]);
    expect(encodeSpy).toHaveBeenCalledTimes(3);
  });

  it("with the default tolerance, every taken frame and only those is encoded", async () => {
    const video = ingest({ fps: 1 });
    let taken = 0;
    for (let t = 0; t < 10_000; t += 33) if ((await video.process(frame({ timestampMs: t }), t)).kind === "jpeg") taken++;
    expect(taken).toBeGreaterThanOrEqual(10);
    expect(taken).toBeLessThanOrEqual(11);
    expect(encodeSpy).toHaveBeenCalledTimes(taken);
  });

  it("JPEG pass-through is sampled too and never re-encoded", async () => {
    const jpeg = await encodeJpeg(new Uint8Array(rgba(8, 8, [9, 9, 9])), 8, 8, "RGBA", 75);
    const video = ingest({ fps: 1, toleranceRatio: 0 });
    const outcomes = [];
    for (let t = 0; t < 2000; t += 250) outcomes.push(await video.process(frame({ format: "JPEG", width: 0, height: 0, data: jpeg }), t));
    expect(outcomes.map((o) => o.kind)).toEqual(["jpeg", "skipped", "skipped", "skipped", "jpeg", "skipped", "skipped", "skipped"]);
    expect(encodeSpy).not.toHaveBeenCalled();
  });

  it("fps 0 disables video entirely", async () => {
    const video = ingest({ fps: 0 });
    for (let t = 0; t < 60_000; t += 5000) expect(await video.process(frame(), t)).toEqual({ kind: "skipped" });
    expect(encodeSpy).not.toHaveBeenCalled();
  });

  it("setFps switches every existing track, and new tracks start at the new rate", async () => {
    const video = ingest({ fps: 0.2 });
    for (const trackId of ["a", "b"]) expect((await video.process(frame({ trackId }), 0)).kind).toBe("jpeg");
    for (const trackId of ["a", "b"]) expect((await video.process(frame({ trackId }), 1000)).kind).toBe("skipped");
    video.setFps(1, 1000);
    expect(video.fps).toBe(1);
    for (const trackId of ["a", "b"]) expect((await video.process(frame({ trackId }), 1000)).kind).toBe("jpeg");
    for (const trackId of ["a", "b"]) expect((await video.process(frame({ trackId }), 2000)).kind).toBe("jpeg");
    video.setFps(0, 2000);
    for (const trackId of ["a", "b", "c"]) expect((await video.process(frame({ trackId }), 10_000)).kind).toBe("skipped");
    video.setFps(0.2, 10_000);
    for (const trackId of ["a", "b", "c"]) expect((await video.process(frame({ trackId }), 10_000)).kind).toBe("jpeg");
  });

  it("tracks are sampled independently", async () => {
    const video = ingest({ fps: 1 });
    expect((await video.process(frame({ trackId: "a" }), 0)).kind).toBe("jpeg");
    expect((await video.process(frame({ trackId: "b" }), 100)).kind).toBe("jpeg");
    expect((await video.process(frame({ trackId: "a" }), 200)).kind).toBe("skipped");
  });
});

describe("track limit", () => {
  it("refuses the ninth distinct track with bad_track_id; known tracks keep working; forgetTrack frees a slot", async () => {
    const video = ingest({ maxTracks: 8 });
    for (let i = 0; i < 8; i++) expect((await video.process(frame({ trackId: `cam-${i}` }), 0)).kind).toBe("jpeg");
    const err = await clientError(video.process(frame({ trackId: "cam-8" }), 0));
    expect(err.code).toBe("bad_track_id");
    expect(err.message).toContain("8");
    expect((await video.process(frame({ trackId: "cam-0" }), 1000)).kind).toBe("jpeg");
    video.forgetTrack("cam-3");
    expect((await video.process(frame({ trackId: "cam-8" }), 1000)).kind).toBe("jpeg");
    expect((await clientError(video.process(frame({ trackId: "cam-9" }), 1000))).code).toBe("bad_track_id");
  });
});

describe("JPEG output (real libjpeg-turbo WASM)", () => {
  it("RGB24 -> a baseline JPEG of the same size and colours (left and right halves)", async () => {
    const video = ingest({ jpegQuality: 90 });
    const left = [200, 40, 90];
    const right = [20, 180, 230];
    const outcome = await video.process(frame({ width: 64, height: 48, data: rgb24(64, 48, left, right), trackId: "cam" }), 0);
    expect(outcome).toMatchObject({ kind: "jpeg", trackId: "cam", passthrough: false });
    if (outcome.kind !== "jpeg") throw new Error("unreachable");
    expect(readJpegHeader(outcome.data)).toEqual({ width: 64, height: 48, progressive: false });
    expect([...outcome.data.subarray(-2)]).toEqual([0xff, 0xd9]); // EOI
    // RGB24 goes to the encoder as it is: no conversion to RGBA on the way.
    expect(encodeSpy).toHaveBeenCalledWith(expect.any(Uint8Array), 64, 48, "RGB24", 90);
    expect(encodeSpy.mock.calls[0]![0].byteLength).toBe(64 * 48 * 3);
    const image = await decodeJpeg(outcome.data);
    expect([image.width, image.height]).toEqual([64, 48]);
    expectColourNear(meanRgb(image, 4, 28), left);
    expectColourNear(meanRgb(image, 36, 60), right);
  });

  it("RGBA -> same size and colours; alpha is dropped", async () => {
    const video = ingest();
    const outcome = await video.process(frame({ format: "RGBA", width: 40, height: 30, data: rgba(40, 30, [250, 250, 10], [10, 10, 250]) }), 0);
    if (outcome.kind !== "jpeg") throw new Error(`expected jpeg, got ${outcome.kind}`);
    const image = await decodeJpeg(outcome.data);
    expect([image.width, image.height]).toEqual([40, 30]);
    expectColourNear(meanRgb(image, 2, 16), [250, 250, 10]);
    expectColourNear(meanRgb(image, 24, 38), [10, 10, 250]);
  });

  it("I420 (odd dimensions) -> same size, BT.601 colours", async () => {
    const video = ingest();
    const cases: [number, number, number, number[]][] = [
      [81, 90, 240, [254, 0, 0]], // red
      [145, 54, 34, [0, 255, 1]], // green
      [126, 128, 128, [128, 128, 128]], // mid grey
    ];
    for (const [i, [y, u, v, rgb]] of cases.entries()) {
      const outcome = await video.process(frame({ trackId: `cam-${i}`, format: "I420", width: 33, height: 17, data: i420(33, 17, y, u, v) }), 0);
      if (outcome.kind !== "jpeg") throw new Error(`expected jpeg, got ${outcome.kind}`);
      const image = await decodeJpeg(outcome.data);
      expect([image.width, image.height]).toEqual([33, 17]);
      expectColourNear(meanRgb(image), rgb, 8);
    }
  });

  it("JPEG pass-through returns the exact same bytes", async () => {
    const jpeg = await encodeJpeg(new Uint8Array(rgba(24, 16, [1, 2, 3], [200, 100, 50])), 24, 16, "RGBA", 75);
    const video = ingest();
    const outcome = await video.process(frame({ format: "JPEG", width: 24, height: 16, data: jpeg, trackId: "cam" }), 0);
    expect(outcome).toEqual({ kind: "jpeg", trackId: "cam", data: jpeg, passthrough: true });
    if (outcome.kind !== "jpeg") throw new Error("unreachable");
    expect(Buffer.from(outcome.data).equals(Buffer.from(jpeg))).toBe(true);
    expect(encodeSpy).not.toHaveBeenCalled();
  });

  it("an encoder failure propagates as itself, not disguised as a client error", async () => {
    const failing = vi.fn<JpegEncoder>(async () => {
      throw new Error("wasm trap");
    });
    const video = ingest({ encode: failing });
    const err = await video.process(frame(), 0).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ClientInputError);
    expect((err as Error).message).toBe("wasm trap");
    expect(failing).toHaveBeenCalledTimes(1);
  });
});
