/**
 * AudioFrame validation (docs/DESIGN.md §5 AudioFrame): the wire contract's rules for PCM, shared by the
 * server's audio path and the client SDK. Pure.
 */
import {
  AUDIO_INPUT_RATES_HZ,
  AUDIO_MAX_CHANNELS,
  AUDIO_MAX_FRAME_MS,
  AUDIO_MAX_INPUT_RATE_HZ,
  AUDIO_MIN_INPUT_RATE_HZ,
} from "../config/limits.js";
import { ClientInputError } from "./client-messages.js";

/** A rejected audio frame: a ClientInputError with code `bad_audio`, so it reaches the client as is. */
export class AudioError extends ClientInputError {
  override readonly name = "AudioError";
  constructor(message: string) {
    super("bad_audio", message);
  }
}

/** The fields of an AudioFrame the audio path needs (structural, so callers pass parsed messages as is). */
export interface PcmFrame {
  sampleRate: number;
  channels: number;
  data: Uint8Array;
}

export const PCM_BYTES_PER_SAMPLE = 2;

/** True for the accepted AudioFrame rates: 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000 Hz. */
export function isAcceptedSampleRate(sampleRate: number): boolean {
  return AUDIO_INPUT_RATES_HZ.includes(sampleRate);
}

/**
 * Throws AudioError unless the frame has one of the common rates (AUDIO_INPUT_RATES_HZ, 8000 to
 * 48000 Hz), 1 or 2 channels, and a non-empty payload of whole s16 frames lasting at most
 * maxFrameMs. Returns the samples per channel.
 */
export function validatePcmFrame(frame: PcmFrame, maxFrameMs = AUDIO_MAX_FRAME_MS): number {
  const { sampleRate, channels, data } = frame;
  if (!isAcceptedSampleRate(sampleRate)) {
    const shown = Number.isFinite(sampleRate) ? String(sampleRate) : "not a number";
    throw new AudioError(
      `sample_rate must be one of ${AUDIO_INPUT_RATES_HZ.join(", ")} Hz ` +
        `(${AUDIO_MIN_INPUT_RATE_HZ}-${AUDIO_MAX_INPUT_RATE_HZ}), got ${shown}`,
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
      `audio frame of ${samples} samples at ${sampleRate} Hz is longer than the ${maxFrameMs} ms limit ` +
        `(${maxSamples} samples)`,
    );
  }
  return samples;
}
