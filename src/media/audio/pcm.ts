/**
 * AudioFrame validation and s16le decoding (DESIGN.md §5 AudioFrame). Decoding reads bytes
 * explicitly as little-endian, so it is correct on any host, and downmixes stereo to mono.
 */
import {
  AUDIO_MAX_CHANNELS,
  AUDIO_MAX_FRAME_MS,
  AUDIO_MAX_INPUT_RATE_HZ,
  AUDIO_MIN_INPUT_RATE_HZ,
} from "./constants.js";

/** A rejected audio frame; `code` is suitable for a client `error` event. */
export class AudioError extends Error {
  override readonly name = "AudioError";
  readonly code = "bad_audio";
}

/** The fields of an AudioFrame the audio path needs (structural, so callers pass parsed messages as is). */
export interface PcmFrame {
  sampleRate: number;
  channels: number;
  data: Uint8Array;
}

const BYTES_PER_SAMPLE = 2;
const S16_SCALE = 32_768;

/**
 * Throws AudioError unless the frame has an integer rate in 8000–48000 Hz, 1 or 2 channels, and a
 * non-empty payload of whole s16 frames lasting at most maxFrameMs. Returns the samples per channel.
 */
export function validatePcmFrame(frame: PcmFrame, maxFrameMs = AUDIO_MAX_FRAME_MS): number {
  const { sampleRate, channels, data } = frame;
  if (!Number.isInteger(sampleRate) || sampleRate < AUDIO_MIN_INPUT_RATE_HZ || sampleRate > AUDIO_MAX_INPUT_RATE_HZ) {
    throw new AudioError(
      `sample_rate must be an integer from ${AUDIO_MIN_INPUT_RATE_HZ} to ${AUDIO_MAX_INPUT_RATE_HZ} Hz, got ${sampleRate}`,
    );
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > AUDIO_MAX_CHANNELS) {
    throw new AudioError(`channels must be 1 (mono) or 2 (interleaved stereo), got ${channels}`);
  }
  if (data.byteLength === 0) throw new AudioError("audio frame has no data");
  const frameBytes = BYTES_PER_SAMPLE * channels;
  if (data.byteLength % frameBytes !== 0) {
    throw new AudioError(
      `${data.byteLength} bytes is not a whole number of ${channels}-channel s16le frames (${frameBytes} bytes each)`,
    );
  }
  const samples = data.byteLength / frameBytes;
  const maxSamples = Math.floor((sampleRate * maxFrameMs) / 1000);
  if (samples > maxSamples) {
    throw new AudioError(
      `audio frame of ${samples} samples at ${sampleRate} Hz is longer than the ${maxFrameMs} ms limit (${maxSamples} samples)`,
    );
  }
  return samples;
}

/**
 * Decodes interleaved s16le PCM to mono floats in [-1, 1): sample / 32768, stereo averaged.
 * Expects a validated payload (whole frames); a trailing partial frame is ignored.
 */
export function decodeS16leMono(data: Uint8Array, channels: number): Float32Array {
  const frameBytes = BYTES_PER_SAMPLE * channels;
  const count = Math.floor(data.byteLength / frameBytes);
  const out = new Float32Array(count);
  if (channels === 1) {
    for (let i = 0, b = 0; i < count; i++, b += 2) out[i] = s16At(data, b) / S16_SCALE;
  } else if (channels === 2) {
    for (let i = 0, b = 0; i < count; i++, b += 4) out[i] = (s16At(data, b) + s16At(data, b + 2)) / (2 * S16_SCALE);
  } else {
    for (let i = 0, b = 0; i < count; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++, b += 2) sum += s16At(data, b);
      out[i] = sum / (channels * S16_SCALE);
    }
  }
  return out;
}

/** Validates a frame and decodes it to mono floats. Throws AudioError. */
export function pcmFrameToMono(frame: PcmFrame, maxFrameMs = AUDIO_MAX_FRAME_MS): Float32Array {
  validatePcmFrame(frame, maxFrameMs);
  return decodeS16leMono(frame.data, frame.channels);
}

/**
 * Encodes floats as s16le bytes: x * 32768, rounded to nearest and clamped to [-32768, 32767],
 * so decodeS16leMono(encodeS16le(x)) round-trips every s16 value exactly.
 */
export function encodeS16le(samples: Float32Array, out = new Uint8Array(samples.length * BYTES_PER_SAMPLE)): Uint8Array {
  for (let i = 0, b = 0; i < samples.length; i++, b += 2) {
    let v = Math.round((samples[i] as number) * S16_SCALE);
    if (v > 32_767) v = 32_767;
    else if (v < -32_768) v = -32_768;
    else if (Number.isNaN(v)) v = 0;
    out[b] = v & 0xff;
    out[b + 1] = (v >> 8) & 0xff;
  }
  return out;
}

/** Signed 16-bit little-endian sample at byte offset b. */
function s16At(data: Uint8Array, b: number): number {
  const v = (data[b] as number) | ((data[b + 1] as number) << 8);
  return (v << 16) >> 16;
}
