/**
 * Baseline JPEG encoding with libjpeg-turbo compiled to WASM (codec/jpeg-turbo: build.sh, wrapper.c,
 * jsimd-wasm.c). This software is based in part on the work of the Independent JPEG Group.
 * Plain TypeScript with no Workers imports: the Worker passes the module that wrangler compiled from
 * `import turboWasm from "./jpeg-turbo.wasm"`, and Node passes `new WebAssembly.Module(bytes)`.
 *
 * Output: baseline (SOF0) JFIF, 4:2:0, standard Huffman tables, islow DCT, the IJG quality scale.
 * RGBA and RGB24 input are converted to YCbCr by libjpeg-turbo; I420 input goes in as raw planes
 * (no colour conversion, no downsampling), by default as BT.601 limited range (what WebRTC decoders
 * produce) and expanded to JPEG's full range on the way in.
 *
 * The encoder is synchronous and keeps one instance with reusable input and output buffers.
 * Bad arguments throw a JpegEncodeError before any WASM runs. An error inside the WASM (out of
 * memory: the module's memory is capped at 64 MB, enough for 4K RGBA, within a Worker's 128 MB)
 * throws a JpegEncodeError with code "encoder_failed"; the next call then starts a fresh instance.
 */

export type TurboPixelFormat = "RGBA" | "RGB24" | "I420";

export type JpegEncodeErrorCode = "bad_dimensions" | "bad_frame_size" | "bad_quality" | "bad_format" | "encoder_failed";

export class JpegEncodeError extends Error {
  override readonly name = "JpegEncodeError";

  constructor(
    readonly code: JpegEncodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface TurboEncodeOptions {
  /** I420 input only: "limited" (BT.601 video range, the default) or "full" (JFIF). */
  i420Range?: "limited" | "full";
}

/** The largest width or height accepted (wrapper.c's JT_MAX_DIMENSION). */
export const MAX_DIMENSION = 16_384;

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  jt_input(bytes: number): number;
  jt_encode(width: number, height: number, format: number, quality: number): number;
  jt_output(): number;
  jt_release(): void;
  jt_stack_save(): number;
  jt_stack_restore(sp: number): void;
}

const FORMAT_CODES = { RGBA: 0, RGB24: 1, I420: 2 } as const;
const I420_FULL_RANGE = 3;

const WASM_ERRORS: Record<number, [JpegEncodeErrorCode, string]> = {
  [-1]: ["bad_dimensions", "dimensions out of range"],
  [-2]: ["bad_format", "unknown format"],
  [-3]: ["bad_quality", "quality out of range"],
  [-4]: ["bad_frame_size", "input buffer too small"],
  [-5]: ["encoder_failed", "out of memory"],
};

/** Thrown by env.jt_abort from inside the WASM: libjpeg-turbo's error_exit. */
class WasmAbort extends Error {
  constructor(readonly libjpegCode: number) {
    super(`libjpeg-turbo error ${libjpegCode}`);
  }
}

let wasmModule: WebAssembly.Module | undefined;
let instance: Exports | undefined;

function instantiate(module: WebAssembly.Module): Exports {
  const nosys = (): number => 52; // WASI ENOSYS: the wrapper never does I/O
  const imports = {
    env: {
      jt_abort(code: number): never {
        throw new WasmAbort(code);
      },
      emscripten_notify_memory_growth(): void {},
    },
    wasi_snapshot_preview1: {
      fd_write: nosys,
      fd_close: nosys,
      fd_seek: nosys,
      proc_exit(code: number): never {
        throw new WasmAbort(-code);
      },
    },
  };
  const exports = new WebAssembly.Instance(module, imports).exports as unknown as Exports;
  exports._initialize();
  return exports;
}

/** Instantiates the encoder from its compiled module. Idempotent; encode() needs it first. */
export function init(module: WebAssembly.Module): void {
  if (wasmModule === module && instance) return;
  wasmModule = module;
  instance = instantiate(module);
}

export function isReady(): boolean {
  return instance !== undefined;
}

/** Bytes a frame of this format and size must have (I420: w*h + 2 * ceil(w/2) * ceil(h/2)). */
export function inputByteLength(format: TurboPixelFormat, width: number, height: number): number {
  switch (format) {
    case "RGBA":
      return width * height * 4;
    case "RGB24":
      return width * height * 3;
    case "I420":
      return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
    default:
      throw new JpegEncodeError("bad_format", `unsupported pixel format: ${String(format)}`);
  }
}

/**
 * Encodes one frame as a baseline JPEG and returns a fresh copy of its bytes.
 * quality: 0–100 (0 is treated as 1, as libjpeg does); fractions are rounded.
 */
export function encode(
  pixels: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  format: TurboPixelFormat,
  quality: number,
  options: TurboEncodeOptions = {},
): Uint8Array {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    width > MAX_DIMENSION ||
    height > MAX_DIMENSION
  ) {
    throw new JpegEncodeError(
      "bad_dimensions",
      `width and height must be integers in 1..${MAX_DIMENSION}, got ${width}x${height}`,
    );
  }
  if (typeof quality !== "number" || !Number.isFinite(quality) || quality < 0 || quality > 100) {
    throw new JpegEncodeError("bad_quality", `quality must be a number in 0..100, got ${quality}`);
  }
  if (!Object.hasOwn(FORMAT_CODES, format)) {
    throw new JpegEncodeError("bad_format", `unsupported pixel format: ${String(format)}`);
  }
  const expected = inputByteLength(format, width, height);
  if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray) || pixels.byteLength !== expected) {
    throw new JpegEncodeError(
      "bad_frame_size",
      `${format} ${width}x${height} needs ${expected} bytes, got ${pixels?.byteLength}`,
    );
  }
  if (!wasmModule) throw new Error("turbo-encoder: call init(module) before encode()");
  const wasm = (instance ??= instantiate(wasmModule));
  const code = format === "I420" && options.i420Range === "full" ? I420_FULL_RANGE : FORMAT_CODES[format];

  const sp = wasm.jt_stack_save();
  let size: number;
  try {
    const input = wasm.jt_input(expected);
    if (input === 0) throw new JpegEncodeError("encoder_failed", `out of memory for a ${expected}-byte frame`);
    // Views are made after each call into the WASM: memory growth replaces the buffer.
    new Uint8Array(wasm.memory.buffer, input, expected).set(pixels);
    size = wasm.jt_encode(width, height, code, Math.max(1, Math.round(quality)));
  } catch (error) {
    // Whatever failed inside the WASM (in practice: out of memory), the next call starts from a
    // fresh instance, so that a memory grown for an oversized frame is let go (WASM memory never
    // shrinks). The abort unwound the WASM frames without popping their stack: restore it first.
    if (error instanceof WasmAbort) wasm.jt_stack_restore(sp);
    instance = undefined;
    if (error instanceof JpegEncodeError) throw error;
    const detail = error instanceof WasmAbort ? error.message : `trap: ${String(error)}`;
    throw new JpegEncodeError("encoder_failed", `JPEG encoder failed (${detail})`);
  }
  if (size <= 0) {
    const [errCode, message] = WASM_ERRORS[size] ?? ["encoder_failed", `error ${size}`];
    if (errCode === "encoder_failed") instance = undefined;
    throw new JpegEncodeError(errCode, `JPEG encoder refused the frame: ${message}`);
  }
  return new Uint8Array(wasm.memory.buffer, wasm.jt_output(), size).slice();
}

/** Frees the encoder's input and output buffers (the WASM memory itself cannot shrink). */
export function release(): void {
  instance?.jt_release();
}
