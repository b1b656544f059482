/**
 * A reference conversion of raw frames to RGBA (RGB24, and I420 as BT.601 limited range), for tests
 * and benchmarks only: the oracle the WASM encoder's colour handling is checked against, and the
 * "convert in JS first" baseline of the JPEG bench. The Worker never converts pixels in JavaScript:
 * RGBA, RGB24 and I420 go to libjpeg-turbo as they are (src/media/codec/turbo-encoder.ts).
 */

import { FrameError, expectedByteLength, validateDimensions, type FrameLimits, type RawPixelFormat } from "../../src/protocol/frames.js";

const RGBA_BYTES_PER_PIXEL = 4;
const OPAQUE = 255;

/**
 * Validates a raw frame and returns it as width*height*4 RGBA bytes (alpha 255 for RGB24 and I420).
 * RGBA input is returned as a view over the same memory, not a copy. RGB24 and I420 are converted
 * into `scratch` when it is large enough (the result is then a view of it), else into a new buffer.
 */
export function toRgba(
  format: RawPixelFormat,
  width: number,
  height: number,
  data: Uint8Array,
  limits: FrameLimits,
  scratch?: Uint8ClampedArray,
): Uint8ClampedArray {
  validateDimensions(width, height, limits);
  const expectedBytes = expectedByteLength(format, width, height);
  if (data.byteLength !== expectedBytes) {
    throw new FrameError(
      "bad_frame_size",
      `${format} ${width}x${height} needs ${expectedBytes} bytes, got ${data.byteLength}`,
    );
  }
  switch (format) {
    case "RGBA":
      return new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength);
    case "RGB24":
      return rgb24ToRgba(data, width * height, outputFor(width * height, scratch));
    case "I420":
      return i420ToRgba(data, width, height, outputFor(width * height, scratch));
    default:
      return unsupported(format);
  }
}

function outputFor(pixelCount: number, scratch: Uint8ClampedArray | undefined): Uint8ClampedArray {
  const bytes = pixelCount * RGBA_BYTES_PER_PIXEL;
  return scratch && scratch.length >= bytes ? scratch.subarray(0, bytes) : new Uint8ClampedArray(bytes);
}

function rgb24ToRgba(rgb: Uint8Array, pixelCount: number, out: Uint8ClampedArray): Uint8ClampedArray {
  for (let src = 0, dst = 0; dst < out.length; src += 3, dst += 4) {
    out[dst] = rgb[src]!;
    out[dst + 1] = rgb[src + 1]!;
    out[dst + 2] = rgb[src + 2]!;
    out[dst + 3] = OPAQUE;
  }
  return out;
}

// BT.601 limited range (Y 16-235, UV 16-240) to full-range RGB, in 8.8 fixed point:
// R = 1.164 (Y-16) + 1.596 (V-128); G = 1.164 (Y-16) - 0.391 (U-128) - 0.813 (V-128);
// B = 1.164 (Y-16) + 2.018 (U-128). The coefficients below are those times 256, rounded.
const Y_SCALE = 298;
const V_TO_R = 409;
const U_TO_G = 100;
const V_TO_G = 208;
const U_TO_B = 516;
const ROUND_HALF = 128;

/** Planar 4:2:0 (Y plane, then U, then V; chroma planes ceil(w/2) x ceil(h/2)) to RGBA. */
function i420ToRgba(yuv: Uint8Array, width: number, height: number, out: Uint8ClampedArray): Uint8ClampedArray {
  const chromaWidth = Math.ceil(width / 2);
  const uPlane = width * height;
  const vPlane = uPlane + chromaWidth * Math.ceil(height / 2);
  // Writes to a Uint8ClampedArray clamp to 0..255, so no explicit clamping is needed.
  let dst = 0;
  for (let row = 0; row < height; row++) {
    const yRow = row * width;
    const chromaRow = (row >> 1) * chromaWidth;
    for (let col = 0; col < width; col += 2) {
      // One chroma sample covers this pixel and the next one on the row.
      const chroma = chromaRow + (col >> 1);
      const u = yuv[uPlane + chroma]! - 128;
      const v = yuv[vPlane + chroma]! - 128;
      const rOffset = V_TO_R * v + ROUND_HALF;
      const gOffset = ROUND_HALF - U_TO_G * u - V_TO_G * v;
      const bOffset = U_TO_B * u + ROUND_HALF;
      const pairEnd = col + 1 < width ? col + 2 : col + 1;
      for (let x = col; x < pairEnd; x++) {
        const luma = Y_SCALE * (yuv[yRow + x]! - 16);
        out[dst] = (luma + rOffset) >> 8;
        out[dst + 1] = (luma + gOffset) >> 8;
        out[dst + 2] = (luma + bOffset) >> 8;
        out[dst + 3] = OPAQUE;
        dst += 4;
      }
    }
  }
  return out;
}


function unsupported(format: never): never {
  throw new TypeError(`unsupported raw pixel format: ${String(format)}`);
}
