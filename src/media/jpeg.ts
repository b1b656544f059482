/**
 * JPEG encoding in WASM: libjpeg-turbo built for WASM SIMD (./codec/jpeg-turbo.wasm, see
 * codec/jpeg-turbo/), baseline 4:2:0 at the configured quality, straight from RGBA, RGB24 or I420.
 * The module is compiled by wrangler from the `.wasm` import and instantiated once per isolate, on
 * first use. (The simulator's decoder, development only, is src/simulator/jpeg-decode.ts.)
 * This software is based in part on the work of the Independent JPEG Group.
 */
import turboWasm from "./codec/jpeg-turbo.wasm";
import { encode as encodeTurbo, init as initTurbo } from "./codec/turbo-encoder.js";
import type { RawPixelFormat } from "../protocol/frames.js";

/** Encodes raw pixels (validated by the caller) as a baseline JPEG. Synchronous inside; ~4 ms at 640x480. */
export async function encodeJpeg(
  pixels: Uint8Array,
  width: number,
  height: number,
  format: RawPixelFormat,
  quality: number,
): Promise<Uint8Array> {
  initTurbo(turboWasm);
  return encodeTurbo(pixels, width, height, format, quality);
}
