/**
 * Builds ClientMessage payloads (docs/DESIGN.md §5) from friendly inputs, checking what the server would
 * reject anyway (a raw frame whose size does not match; audio outside 8-48 kHz, 1-2 channels or
 * 1 s), with the server's own checks, so a mistake throws at the call site (RangeError for video,
 * AudioError for audio) instead of becoming a stream of `error` events.
 */
import { deepfake_edge } from "../gen/ingest.js";
import { expectedByteLength } from "../protocol/frames.js";
import { validatePcmFrame } from "../protocol/audio-frames.js";
import { s16ToLeBytes } from "./pcm.js";

const v1 = deepfake_edge.v1;

export type PixelFormatName = "RGB24" | "RGBA" | "I420" | "JPEG";

export interface VideoFrameMeta {
  /** Default "camera". */
  trackId?: string;
  width: number;
  height: number;
  /** RGB24: media bots; RGBA: canvas getImageData; I420: WebRTC decoders; JPEG: pass-through. */
  format: PixelFormatName;
  /** Screen share is accepted but never sent upstream. Default "camera". */
  source?: "camera" | "screen";
  /** Capture time; default Date.now(). */
  timestampMs?: number;
}

export interface VideoFrameInput extends VideoFrameMeta {
  data: Uint8Array;
}

export interface AudioFrameInput {
  /** Default "microphone". */
  trackId?: string;
  /** One of 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000 Hz (AUDIO_INPUT_RATES_HZ). */
  sampleRate: number;
  /** 1 or 2 (interleaved). */
  channels: number;
  /**
   * s16 samples, or their little-endian bytes; at most 1 s (20 ms is typical; the client joins them
   * into audioBatchMs messages).
   */
  data: Int16Array | Uint8Array;
  timestampMs?: number;
}

export function videoMessage(frame: VideoFrameInput): deepfake_edge.v1.ClientMessage.$Properties {
  const { width, height, format, data } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`video width and height must be positive integers, got ${width}x${height}`);
  }
  if (format !== "JPEG") {
    const expected = expectedByteLength(format, width, height);
    if (data.byteLength !== expected)
      throw new RangeError(`${format} ${width}x${height} needs ${expected} bytes, got ${data.byteLength}`);
  } else if (data.byteLength < 4 || data[0] !== 0xff || data[1] !== 0xd8) {
    throw new RangeError("format JPEG but data does not start with a JPEG SOI marker");
  }
  return {
    video: {
      trackId: frame.trackId ?? "camera",
      width,
      height,
      format: v1.PixelFormat[format],
      source: frame.source === "screen" ? v1.VideoSource.SCREEN : v1.VideoSource.CAMERA,
      timestampMs: frame.timestampMs ?? Date.now(),
      data,
    },
  };
}

export function audioMessage(frame: AudioFrameInput): deepfake_edge.v1.ClientMessage.$Properties {
  const { sampleRate, channels } = frame;
  const data = frame.data instanceof Int16Array ? s16ToLeBytes(frame.data) : frame.data;
  validatePcmFrame({ sampleRate, channels, data });
  return {
    audio: {
      trackId: frame.trackId ?? "microphone",
      sampleRate,
      channels,
      timestampMs: frame.timestampMs ?? Date.now(),
      data,
    },
  };
}
