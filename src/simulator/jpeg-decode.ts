/**
 * The simulator's JPEG decoder (development only): @jsquash/jpeg (mozjpeg), compiled by wrangler from
 * the `.wasm` import and instantiated once per isolate, on first use. Loaded through ./jpeg-check.ts,
 * which a production build (`npm run deploy`) leaves out together with this module.
 */
import decode, { init as initDecoder } from "@jsquash/jpeg/decode.js";
import decoderWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import { JPEG_DECODE_TIMEOUT_MS } from "../config/limits.js";
import { readJpegHeader } from "../media/jpeg-markers.js";

type InitWithModule = (module: WebAssembly.Module) => Promise<void>;

let decoderReady: Promise<void> | undefined;

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
