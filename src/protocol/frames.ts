/**
 * Frame byte maths and dimension checks of VideoFrame (docs/DESIGN.md §5): how many bytes each raw pixel
 * format needs, and the limits a frame must fit. Shared by the server and the client SDK. Pure.
 */

export type RawPixelFormat = "RGB24" | "RGBA" | "I420";

export type FrameErrorCode = "bad_dimensions" | "bad_frame_size" | "frame_too_large";

/** A frame rejected before conversion; `code` is suitable for a client `error` event. */
export class FrameError extends Error {
  override readonly name = "FrameError";

  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface FrameLimits {
  maxWidth: number;
  maxHeight: number;
  maxPixels: number;
}

const RGBA_BYTES_PER_PIXEL = 4;
const RGB24_BYTES_PER_PIXEL = 3;

/** Bytes a frame of this format and size must have. I420: w*h luma + two ceil(w/2) x ceil(h/2) chroma planes. */
export function expectedByteLength(format: RawPixelFormat, width: number, height: number): number {
  if (!isDimension(width) || !isDimension(height)) {
    throw new FrameError("bad_dimensions", `dimensions must be non-negative integers, got ${width}x${height}`);
  }
  switch (format) {
    case "RGB24":
      return width * height * RGB24_BYTES_PER_PIXEL;
    case "RGBA":
      return width * height * RGBA_BYTES_PER_PIXEL;
    case "I420":
      return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
    default:
      return unsupported(format);
  }
}

/** Throws a FrameError unless width and height are positive integers within the limits. */
export function validateDimensions(width: number, height: number, limits: FrameLimits): void {
  if (!isDimension(width) || !isDimension(height) || width === 0 || height === 0) {
    throw new FrameError("bad_dimensions", `width and height must be positive integers, got ${width}x${height}`);
  }
  if (width > limits.maxWidth || height > limits.maxHeight) {
    throw new FrameError(
      "frame_too_large",
      `${width}x${height} exceeds the maximum of ${limits.maxWidth}x${limits.maxHeight}`,
    );
  }
  if (width * height > limits.maxPixels) {
    throw new FrameError(
      "frame_too_large",
      `${width}x${height} is ${width * height} pixels, more than the maximum of ${limits.maxPixels}`,
    );
  }
}

function isDimension(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function unsupported(format: never): never {
  throw new TypeError(`unsupported raw pixel format: ${String(format)}`);
}
