/**
 * How the simulator checks that a JPEG FrameRequest carries a real image (docs/DESIGN.md §9).
 * Development builds (wrangler dev, the tests) decode it with mozjpeg (./jpeg-decode.ts). The
 * production build (`npm run deploy`, `npm run build:check`) defines SIMULATOR_JPEG_DECODER as false,
 * so the decoder and its WASM are left out of the bundle; a simulator in a deployed Worker (DEV_MODE
 * without a key) then checks the JPEG's structure (markers, frame header, scan) without decoding.
 */
import { readJpegHeader } from "../media/jpeg-markers.js";

/** A build-time constant (wrangler `--define SIMULATOR_JPEG_DECODER:false`); undefined means true. */
declare const SIMULATOR_JPEG_DECODER: boolean | undefined;

/** The JPEG's dimensions; throws when it is not a JPEG (or, with the decoder, not decodable). */
export async function checkJpeg(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  // Written so that esbuild drops the import when the constant is false.
  if (typeof SIMULATOR_JPEG_DECODER === "undefined" || SIMULATOR_JPEG_DECODER) {
    return (await import("./jpeg-decode.js")).decodeJpegSize(bytes);
  }
  const { width, height } = readJpegHeader(bytes);
  return { width, height };
}
