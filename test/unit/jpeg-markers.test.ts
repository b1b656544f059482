import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import encode, { init } from "@jsquash/jpeg/encode.js";
import { readJpegHeader } from "../../src/media/jpeg-markers";

let jpeg: Uint8Array;

beforeAll(async () => {
  const wasm = readFileSync(createRequire(import.meta.url).resolve("@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm"));
  await (init as unknown as (m: WebAssembly.Module) => Promise<void>)(await WebAssembly.compile(wasm));
  const data = new Uint8ClampedArray(321 * 123 * 4).fill(128);
  jpeg = new Uint8Array(await encode({ data, width: 321, height: 123, colorSpace: "srgb" } as unknown as ImageData, { quality: 75, progressive: false }));
});

describe("readJpegHeader", () => {
  it("reads the size of a real baseline JPEG", () => {
    expect(readJpegHeader(jpeg)).toEqual({ width: 321, height: 123, progressive: false });
  });

  it("refuses data that is not a JPEG, or is cut before its scan", () => {
    expect(() => readJpegHeader(new Uint8Array([1, 2, 3, 4]))).toThrow(/no SOI/);
    expect(() => readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]))).toThrow(/truncated/);
    expect(() => readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 0xff, 0xd9]))).toThrow(/EOI before SOS/);
    const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda);
    expect(() => readJpegHeader(jpeg.slice(0, sos + 4))).toThrow(/truncated/);
    expect(() => readJpegHeader(jpeg.slice(0, sos))).toThrow(/truncated/);
  });

  it("never throws anything but an Error, and never loops, on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (tail, withSoi) => {
        const bytes = withSoi ? new Uint8Array([0xff, 0xd8, ...tail]) : tail;
        try {
          const header = readJpegHeader(bytes);
          expect(header.width).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("rejects a real JPEG cut anywhere inside its headers", () => {
    const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda);
    for (let cut = 0; cut < sos; cut += 7) expect(() => readJpegHeader(jpeg.slice(0, cut))).toThrow();
  });
});
