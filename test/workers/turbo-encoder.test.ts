/**
 * The libjpeg-turbo WASM encoder inside workerd: the module wrangler compiles from the `.wasm`
 * import instantiates with the imports turbo-encoder.ts provides (no eval, no Emscripten glue),
 * encodes every input format, recovers from a bad frame, and its output decodes with the
 * project's @jsquash decoder as the simulator uses it.
 */
import { describe, expect, it } from "vitest";
import turboWasm from "../../src/media/codec/jpeg-turbo.wasm";
import { encode, init, JpegEncodeError } from "../../src/media/codec/turbo-encoder.js";
import { decodeJpegSize } from "../../src/simulator/jpeg-decode.js";
import { readJpegHeader } from "../../src/media/jpeg-markers.js";

function gradient(width: number, height: number, channels: 3 | 4): Uint8Array {
  const px = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      px[i] = x & 255;
      px[i + 1] = y & 255;
      px[i + 2] = (x + y) & 255;
      if (channels === 4) px[i + 3] = 255;
    }
  }
  return px;
}

describe("turbo-encoder in workerd", () => {
  it("encodes RGBA, RGB24 and I420 at 640x480 to baseline JPEGs the decoder reads", async () => {
    init(turboWasm);
    const width = 640, height = 480;
    const i420 = new Uint8Array(width * height * 1.5).fill(128);
    for (const [format, pixels] of [["RGBA", gradient(width, height, 4)], ["RGB24", gradient(width, height, 3)], ["I420", i420]] as const) {
      const jpeg = encode(pixels, width, height, format, 75);
      expect(readJpegHeader(jpeg), format).toEqual({ width, height, progressive: false });
      expect(await decodeJpegSize(jpeg)).toEqual({ width, height });
    }
  });

  it("a bad frame throws a JpegEncodeError and the next one encodes", () => {
    init(turboWasm);
    expect(() => encode(new Uint8Array(10), 640, 480, "RGBA", 75)).toThrow(JpegEncodeError);
    expect(readJpegHeader(encode(gradient(64, 64, 4), 64, 64, "RGBA", 75)).width).toBe(64);
  });
});
