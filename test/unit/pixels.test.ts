import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { expectedByteLength, FrameError, validateDimensions, type FrameLimits, type RawPixelFormat } from "../../src/protocol/frames";
import { toRgba } from "../support/pixels";

const LIMITS: FrameLimits = { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 };
const FORMATS: readonly RawPixelFormat[] = ["RGB24", "RGBA", "I420"];

/** Calls fn and returns the FrameError it throws (failing the test if it throws anything else). */
function frameErrorOf(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError);
    return error as FrameError;
  }
  throw new Error("expected a FrameError");
}

/** An I420 frame of one solid colour. */
function solidI420(width: number, height: number, y: number, u: number, v: number): Uint8Array {
  const lumaBytes = width * height;
  const chromaBytes = Math.ceil(width / 2) * Math.ceil(height / 2);
  const data = new Uint8Array(lumaBytes + 2 * chromaBytes);
  data.fill(y, 0, lumaBytes);
  data.fill(u, lumaBytes, lumaBytes + chromaBytes);
  data.fill(v, lumaBytes + chromaBytes);
  return data;
}

/** RGBA of pixel (x, y). */
function pixelAt(rgba: Uint8ClampedArray, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 4;
  return Array.from(rgba.subarray(i, i + 4));
}

describe("expectedByteLength", () => {
  it("counts bytes for each format", () => {
    expect(expectedByteLength("RGB24", 640, 480)).toBe(921_600);
    expect(expectedByteLength("RGBA", 640, 480)).toBe(1_228_800);
    expect(expectedByteLength("I420", 640, 480)).toBe(460_800);
  });

  it("rounds I420 chroma planes up for odd sizes", () => {
    expect(expectedByteLength("I420", 641, 481)).toBe(641 * 481 + 2 * 321 * 241);
    expect(expectedByteLength("I420", 1, 1)).toBe(3);
    expect(expectedByteLength("I420", 3, 2)).toBe(6 + 2 * 2 * 1);
  });

  it("rejects non-integer or negative dimensions", () => {
    expect(frameErrorOf(() => expectedByteLength("RGBA", 1.5, 2)).code).toBe("bad_dimensions");
    expect(frameErrorOf(() => expectedByteLength("I420", 2, -2)).code).toBe("bad_dimensions");
  });
});

describe("validateDimensions", () => {
  it("accepts sizes within the limits, including the maximum", () => {
    expect(() => validateDimensions(640, 480, LIMITS)).not.toThrow();
    expect(() => validateDimensions(1920, 1080, LIMITS)).not.toThrow();
  });

  it.each([
    [0, 480],
    [640, 0],
    [-1, 480],
    [640.5, 480],
    [Number.NaN, 480],
    [640, Number.POSITIVE_INFINITY],
  ])("rejects %s x %s as bad_dimensions", (width, height) => {
    expect(frameErrorOf(() => validateDimensions(width, height, LIMITS)).code).toBe("bad_dimensions");
  });

  it("rejects frames over the width, height or pixel limits as frame_too_large", () => {
    expect(frameErrorOf(() => validateDimensions(1921, 10, LIMITS)).code).toBe("frame_too_large");
    expect(frameErrorOf(() => validateDimensions(10, 1081, LIMITS)).code).toBe("frame_too_large");
    const squareLimits = { maxWidth: 1000, maxHeight: 1000, maxPixels: 500_000 };
    expect(frameErrorOf(() => validateDimensions(1000, 501, squareLimits)).code).toBe("frame_too_large");
  });
});

describe("toRgba validation", () => {
  it("rejects a wrong data length with a clear bad_frame_size message", () => {
    const error = frameErrorOf(() => toRgba("I420", 640, 480, new Uint8Array(460_799), LIMITS));
    expect(error.code).toBe("bad_frame_size");
    expect(error.message).toBe("I420 640x480 needs 460800 bytes, got 460799");
  });

  it.each(FORMATS)("rejects %s data one byte short or long", (format) => {
    const bytes = expectedByteLength(format, 5, 3);
    for (const length of [0, bytes - 1, bytes + 1]) {
      expect(frameErrorOf(() => toRgba(format, 5, 3, new Uint8Array(length), LIMITS)).code).toBe("bad_frame_size");
    }
  });

  it("checks dimensions before allocating anything", () => {
    expect(frameErrorOf(() => toRgba("RGBA", 0, 10, new Uint8Array(0), LIMITS)).code).toBe("bad_dimensions");
    expect(frameErrorOf(() => toRgba("RGBA", 4000, 4000, new Uint8Array(4), LIMITS)).code).toBe("frame_too_large");
  });
});

describe("toRgba conversion", () => {
  it("returns RGBA input as a view over the same bytes, not a copy", () => {
    const backing = new Uint8Array(3 + 2 * 2 * 4);
    const frame = backing.subarray(3);
    frame.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const rgba = toRgba("RGBA", 2, 2, frame, LIMITS);
    expect(rgba).toBeInstanceOf(Uint8ClampedArray);
    expect(rgba.buffer).toBe(backing.buffer);
    expect(rgba.byteOffset).toBe(3);
    expect(Array.from(rgba)).toEqual(Array.from(frame));
  });

  it("expands RGB24 to RGBA with opaque alpha", () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 12, 34, 56, 0, 0, 0, 255, 255, 255]);
    const rgba = toRgba("RGB24", 3, 2, rgb, LIMITS);
    expect(Array.from(rgba)).toEqual([
      255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 12, 34, 56, 255, 0, 0, 0, 255, 255, 255, 255, 255,
    ]);
  });

  it("converts limited-range black, white and grey exactly", () => {
    expect(pixelAt(toRgba("I420", 4, 4, solidI420(4, 4, 16, 128, 128), LIMITS), 4, 1, 1)).toEqual([0, 0, 0, 255]);
    expect(pixelAt(toRgba("I420", 4, 4, solidI420(4, 4, 235, 128, 128), LIMITS), 4, 3, 3)).toEqual([255, 255, 255, 255]);
    expect(pixelAt(toRgba("I420", 2, 2, solidI420(2, 2, 126, 128, 128), LIMITS), 2, 0, 0)).toEqual([128, 128, 128, 255]);
  });

  it("clamps out-of-range YUV (below 16, above 235) instead of wrapping", () => {
    expect(pixelAt(toRgba("I420", 2, 2, solidI420(2, 2, 0, 128, 128), LIMITS), 2, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(pixelAt(toRgba("I420", 2, 2, solidI420(2, 2, 255, 128, 128), LIMITS), 2, 0, 0)).toEqual([255, 255, 255, 255]);
  });

  it.each([
    ["red", [81, 90, 240], [255, 0, 0]],
    ["green", [145, 54, 34], [0, 255, 0]],
    ["blue", [41, 240, 110], [0, 0, 255]],
  ] as const)("converts BT.601 %s to within 3 of the expected RGB", (_name, [y, u, v], expected) => {
    const [r, g, b, a] = pixelAt(toRgba("I420", 2, 2, solidI420(2, 2, y, u, v), LIMITS), 2, 1, 1);
    expect(Math.abs(r! - expected[0])).toBeLessThanOrEqual(3);
    expect(Math.abs(g! - expected[1])).toBeLessThanOrEqual(3);
    expect(Math.abs(b! - expected[2])).toBeLessThanOrEqual(3);
    expect(a).toBe(255);
  });

  it("maps each 2x2 block, including odd edges, to its own chroma sample", () => {
    // 3x3 frame: luma all 126 (mid grey); chroma 2x2, each sample a different U.
    const width = 3;
    const height = 3;
    const data = new Uint8Array(expectedByteLength("I420", width, height));
    data.fill(126, 0, 9);
    data.set([128, 200, 60, 128], 9); // U plane
    data.fill(128, 13); // V plane
    const rgba = toRgba("I420", width, height, data, LIMITS);
    const blue = (x: number, y: number) => pixelAt(rgba, width, x, y)[2];
    expect([blue(0, 0), blue(1, 0), blue(0, 1), blue(1, 1)]).toEqual([128, 128, 128, 128]);
    expect([blue(2, 0), blue(2, 1)]).toEqual([255, 255]); // U=200: more blue (clamped)
    expect([blue(0, 2), blue(1, 2)]).toEqual([0, 0]); // U=60: no blue
    expect(blue(2, 2)).toBe(128);
  });

  it("converts any valid frame without throwing, to width*height*4 bytes (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FORMATS),
        fc.integer({ min: 1, max: 33 }),
        fc.integer({ min: 1, max: 33 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (format, width, height, seed) => {
          const data = new Uint8Array(expectedByteLength(format, width, height));
          for (let i = 0, state = seed; i < data.length; i++) {
            state = (Math.imul(state, 1103515245) + 12345) >>> 0;
            data[i] = state >>> 24;
          }
          const rgba = toRgba(format, width, height, data, LIMITS);
          expect(rgba.length).toBe(width * height * 4);
          if (format !== "RGBA") {
            let opaque = true;
            for (let i = 3; i < rgba.length; i += 4) opaque &&= rgba[i] === 255;
            expect(opaque).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
