/**
 * AudioFrame s16le decoding (validation lives in protocol/audio-frames.ts). Decoding reads bytes
 * explicitly as little-endian, so it is correct on any host, and downmixes stereo to mono.
 */
import { PCM_BYTES_PER_SAMPLE, validatePcmFrame, type PcmFrame } from "../../protocol/audio-frames.js";
import { AUDIO_MAX_FRAME_MS } from "../../config/limits.js";
import { LITTLE_ENDIAN } from "../../shared/endian.js";

const BYTES_PER_SAMPLE = PCM_BYTES_PER_SAMPLE;
const S16_SCALE = 32_768;

/**
 * Decodes interleaved s16le PCM to mono floats in [-1, 1): sample / 32768, stereo averaged.
 * Expects a validated payload (whole frames); a trailing partial frame is ignored.
 */
export function decodeS16leMono(data: Uint8Array, channels: number): Float32Array {
  const out = new Float32Array(Math.floor(data.byteLength / (BYTES_PER_SAMPLE * channels)));
  decodeS16leMonoInto(data, channels, out, 0);
  return out;
}

/**
 * decodeS16leMono without an allocation for the output: writes the mono samples into `out` from index
 * `at` (which must have room for them) and returns how many it wrote. The audio path decodes each
 * message straight into the resampler's history this way.
 */
export function decodeS16leMonoInto(data: Uint8Array, channels: number, out: Float32Array, at: number): number {
  const frameBytes = BYTES_PER_SAMPLE * channels;
  const count = Math.floor(data.byteLength / frameBytes);
  if (LITTLE_ENDIAN && channels <= 2) {
    // The usual case (mono or stereo): one copy into an aligned scratch buffer (a protobuf field's bytes
    // may start at an odd offset), then read through its Int16Array view, not byte by byte.
    const s = scratchFor(count * channels);
    scratchBytes.set(count * frameBytes === data.byteLength ? data : data.subarray(0, count * frameBytes));
    if (channels === 1) {
      for (let i = 0; i < count; i++) out[at + i] = (s[i] as number) / S16_SCALE;
    } else {
      for (let i = 0, j = 0; i < count; i++, j += 2)
        out[at + i] = ((s[j] as number) + (s[j + 1] as number)) / (2 * S16_SCALE);
    }
  } else if (channels === 1) {
    for (let i = 0, b = 0; i < count; i++, b += 2) out[at + i] = s16At(data, b) / S16_SCALE;
  } else if (channels === 2) {
    for (let i = 0, b = 0; i < count; i++, b += 4)
      out[at + i] = (s16At(data, b) + s16At(data, b + 2)) / (2 * S16_SCALE);
  } else {
    for (let i = 0, b = 0; i < count; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++, b += 2) sum += s16At(data, b);
      out[at + i] = sum / (channels * S16_SCALE);
    }
  }
  return count;
}

/** Aligned scratch for decoding (grows to the largest frame seen; a 1 s 48 kHz stereo frame is 188 KiB). */
let scratch = new Int16Array(4_096);
let scratchBytes = new Uint8Array(scratch.buffer);

function scratchFor(samples: number): Int16Array {
  if (scratch.length < samples) {
    scratch = new Int16Array(Math.max(samples, 2 * scratch.length));
    scratchBytes = new Uint8Array(scratch.buffer);
  }
  return scratch;
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
export function encodeS16le(
  samples: Float32Array,
  out = new Uint8Array(samples.length * BYTES_PER_SAMPLE),
): Uint8Array {
  if (LITTLE_ENDIAN && out.byteOffset % 2 === 0) {
    // The usual case (a 3 s chunk is 48 000 samples): store through an Int16Array view; NaN stores as 0.
    const s = new Int16Array(out.buffer, out.byteOffset, samples.length);
    for (let i = 0; i < samples.length; i++) {
      const v = Math.round((samples[i] as number) * S16_SCALE);
      s[i] = v > 32_767 ? 32_767 : v < -32_768 ? -32_768 : v;
    }
    return out;
  }
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
