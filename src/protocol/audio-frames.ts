/**
 * AudioFrame validation (DESIGN.md §5 AudioFrame): the wire contract's rules for PCM, shared by the
 * server's audio path and the client SDK. Pure.
 */
import {
  AUDIO_MAX_CHANNELS,
  AUDIO_MAX_FRAME_MS,
  AUDIO_MAX_INPUT_RATE_HZ,
  AUDIO_MIN_INPUT_RATE_HZ,
} from "../config/limits.js";

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

export const PCM_BYTES_PER_SAMPLE = 2;

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
  const frameBytes = PCM_BYTES_PER_SAMPLE * channels;
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
