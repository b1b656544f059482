/**
 * A Worker for the JPEG benchmark (bench/jpeg.bench.ts), run in workerd through Miniflare: it
 * encodes the pixels POSTed to it N times with the libjpeg-turbo WASM encoder and answers with
 * the JPEG size and the in-isolate timings. The module arrives as wrangler would bundle it: a
 * compiled WebAssembly.Module from the `.wasm` import.
 *
 * POST /encode?width=&height=&format=&quality=&iterations=  body: the raw pixels
 */
import turboWasm from "../../src/media/codec/jpeg-turbo.wasm";
import { encode, init, type TurboPixelFormat } from "../../src/media/codec/turbo-encoder";

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const width = Number(url.searchParams.get("width"));
    const height = Number(url.searchParams.get("height"));
    const format = (url.searchParams.get("format") ?? "RGBA") as TurboPixelFormat;
    const quality = Number(url.searchParams.get("quality") ?? 75);
    const iterations = Number(url.searchParams.get("iterations") ?? 1);
    const pixels = new Uint8Array(await request.arrayBuffer());
    const initStart = performance.now();
    init(turboWasm);
    const initMs = performance.now() - initStart;
    let bytes = 0;
    const start = performance.now();
    const startDate = Date.now();
    for (let i = 0; i < iterations; i++) bytes = encode(pixels, width, height, format, quality).length;
    const elapsedMs = performance.now() - start;
    const elapsedDateMs = Date.now() - startDate;
    return Response.json({ bytes, iterations, elapsedMs, elapsedDateMs, initMs });
  },
};
