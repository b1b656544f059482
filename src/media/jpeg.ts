/**
 * JPEG in WASM. Encoding: libjpeg-turbo built for WASM SIMD (./codec/jpeg-turbo.wasm, see
 * codec/jpeg-turbo/), baseline 4:2:0 at the configured quality, straight from RGBA, RGB24 or I420.
 * Decoding (the simulator's check only): @jsquash/jpeg (mozjpeg). The modules are compiled by
 * wrangler from the `.wasm` imports and instantiated once per isolate, on first use.
 * This software is based in part on the work of the Independent JPEG Group.
 */
import decode, { init as initDecoder } from "@jsquash/jpeg/decode.js";
import decoderWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import turboWasm from "./codec/jpeg-turbo.wasm";
import { encode as encodeTurbo, init as initTurbo } from "./codec/turbo-encoder.js";
import { JPEG_DECODE_TIMEOUT_MS } from "../config/limits.js";
import { readJpegHeader } from "./jpeg-markers.js";
import type { RawPixelFormat } from "../protocol/frames.js";

type InitWithModule = (module: WebAssembly.Module) => Promise<void>;

let decoderReady: Promise<void> | undefined;

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

/**
 * Decodes a JPEG, throwing when it is not a decodable image. Returns its dimensions.
 * Structurally broken data is refused before the decoder sees it: mozjpeg's WASM build fails on it
 * outside the returned promise, which would then never settle (the timeout guards any other case).
 */
export async function decodeJpegSize(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  readJpegHeader(bytes);
  decoderReady ??= (initDecoder as unknown as InitWithModule)(decoderWasm);
  await decoderReady;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`JPEG decode did not finish within ${JPEG_DECODE_TIMEOUT_MS} ms`)),
      JPEG_DECODE_TIMEOUT_MS,
    );
  });
  try {
    const image = await Promise.race([decode(bytes.slice().buffer), timeout]);
    return { width: image.width, height: image.height };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
