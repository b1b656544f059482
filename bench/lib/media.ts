/**
 * Media for the benchmarks: camera-like frames in every pixel format, speech-like 16 kHz audio, and
 * the serialized ClientMessages a client sends. JPEGs are made with the project's own encoder
 * (src/media/jpeg.ts), so the benchmarks follow whatever encoder it uses.
 */
import "../../src/protocol/proto-runtime.js";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { encodeJpeg } from "../../src/media/jpeg.js";

const v1 = deepfake_edge.v1;
export const PixelFormat = v1.PixelFormat;
export type PixelFormatName = "RGB24" | "RGBA" | "I420" | "JPEG";

/** A smooth gradient with texture that shifts with `seed`: closer to a camera frame than noise or a flat colour. */
export function cameraRgba(width: number, height: number, seed = 0): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      rgba[i] = (x + seed * 3) & 255;
      rgba[i + 1] = (y * 2 + ((x * y) >> 9)) & 255;
      rgba[i + 2] = (128 + 60 * Math.sin((x + y + seed * 5) / 23)) & 255;
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

export function rgbaToRgb(rgba: Uint8ClampedArray): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    rgb[q] = rgba[p]!;
    rgb[q + 1] = rgba[p + 1]!;
    rgb[q + 2] = rgba[p + 2]!;
  }
  return rgb;
}

/** BT.601 limited-range I420 of an RGBA image (even dimensions). */
export function rgbaToI420(rgba: Uint8ClampedArray, width: number, height: number): Uint8Array {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const out = new Uint8Array(width * height + 2 * cw * ch);
  const u0 = width * height;
  const v0 = u0 + cw * ch;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const [r, g, b] = [rgba[i]!, rgba[i + 1]!, rgba[i + 2]!];
      out[y * width + x] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
      if (y % 2 === 0 && x % 2 === 0) {
        const c = (y / 2) * cw + x / 2;
        out[u0 + c] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
        out[v0 + c] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
      }
    }
  }
  return out;
}

/** The frame's pixel data in `format` (JPEG: encoded by the project's encoder at q75). */
export async function framePixels(format: PixelFormatName, width: number, height: number, seed = 0): Promise<Uint8Array> {
  const rgba = cameraRgba(width, height, seed);
  switch (format) {
    case "RGBA":
      return new Uint8Array(rgba.buffer);
    case "RGB24":
      return rgbaToRgb(rgba);
    case "I420":
      return rgbaToI420(rgba, width, height);
    case "JPEG":
      return encodeJpeg(new Uint8Array(rgba.buffer), width, height, "RGBA", 75);
  }
}

export interface VideoMessageOptions {
  trackId?: string;
  format: PixelFormatName;
  width: number;
  height: number;
  data: Uint8Array;
  timestampMs?: number;
  screen?: boolean;
}

/** One serialized VideoFrame ClientMessage. */
export function videoMessage(o: VideoMessageOptions): Uint8Array {
  return v1.ClientMessage.encode({
    video: {
      trackId: o.trackId ?? "camera",
      width: o.width,
      height: o.height,
      format: PixelFormat[o.format],
      source: o.screen ? v1.VideoSource.SCREEN : v1.VideoSource.CAMERA,
      timestampMs: o.timestampMs ?? 0,
      data: o.data,
    },
  }).finish();
}

/** One serialized AudioFrame ClientMessage. */
export function audioMessage(pcm: Uint8Array, sampleRate: number, channels = 1, trackId = "microphone"): Uint8Array {
  return v1.ClientMessage.encode({ audio: { trackId, sampleRate, channels, timestampMs: 0, data: pcm } }).finish();
}

export function helloMessage(client = "bench", vad = false): Uint8Array {
  return v1.ClientMessage.encode({ hello: { client, vad, honorsRate: false } }).finish();
}

/**
 * Speech-like s16le mono audio cut into frames of `frameMs`: a voiced tone (150 Hz with harmonics)
 * under a 4 Hz syllable envelope, 1.6 s of it then 0.4 s of near-silence, looping every 2 s. Loud
 * enough to open the built-in voice gate, so the whole audio chain (resampler, gate, chunker) runs.
 */
export function speechFrames(sampleRate: number, frameMs: number, seconds = 2): Uint8Array[] {
  const perFrame = Math.round((sampleRate * frameMs) / 1000);
  const total = Math.round(sampleRate * seconds);
  const frames: Uint8Array[] = [];
  for (let start = 0; start + perFrame <= total; start += perFrame) {
    const pcm = new Uint8Array(perFrame * 2);
    const view = new DataView(pcm.buffer);
    for (let i = 0; i < perFrame; i++) {
      const t = (start + i) / sampleRate;
      const inPhrase = t % 2 < 1.6;
      const envelope = inPhrase ? 0.35 + 0.65 * Math.abs(Math.sin(2 * Math.PI * 2 * t)) : 0.002;
      const voiced = Math.sin(2 * Math.PI * 150 * t) + 0.5 * Math.sin(2 * Math.PI * 300 * t) + 0.25 * Math.sin(2 * Math.PI * 450 * t);
      view.setInt16(i * 2, Math.round(9_000 * envelope * voiced), true);
    }
    frames.push(pcm);
  }
  return frames;
}

/** Serialized 16 kHz (or `sampleRate`) audio ClientMessages of `frameMs` each, cycled by the senders. */
export function speechMessages(sampleRate = 16_000, frameMs = 20): Uint8Array[] {
  return speechFrames(sampleRate, frameMs).map((pcm) => audioMessage(pcm, sampleRate));
}
