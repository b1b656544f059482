/**
 * Capture-side PCM helpers for AudioFrame (docs/DESIGN.md §5: signed 16-bit little-endian, interleaved):
 * Web Audio floats to s16, fixed-length framing. The inverse direction and the limits live in
 * src/media/audio/. Pure: used by the SDK, the playground's AudioWorklet and Node hosts alike.
 */
import { LITTLE_ENDIAN } from "../shared/endian.js";

/** Frame length the SDK recommends (and the playground sends): 20 ms, as in WebRTC. */
export const AUDIO_FRAME_MS = 20;

/** Web Audio float samples ([-1, 1]) to s16, clamped, rounded to nearest. */
export function floatToS16(
  input: Float32Array,
  out: Int16Array = new Int16Array(input.length),
  offset = 0,
): Int16Array {
  for (let i = 0; i < input.length; i++) {
    const s = input[i] as number;
    const clamped = s > 1 ? 1 : s < -1 ? -1 : Number.isNaN(s) ? 0 : s;
    out[offset + i] = Math.round(clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff);
  }
  return out;
}

/** s16 samples as little-endian bytes (a view on little-endian hosts, a swapped copy otherwise). */
export function s16ToLeBytes(samples: Int16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i] as number, true);
  return out;
}

/** Samples per channel in one frame of `frameMs` at `sampleRate`. */
export function samplesPerFrame(sampleRate: number, frameMs = AUDIO_FRAME_MS): number {
  return Math.round((sampleRate * frameMs) / 1000);
}

/**
 * Cuts a stream of mono float blocks (Web Audio renders 128 samples at a time) into fixed-length
 * s16 frames. `push` returns the frames completed by this block, each a fresh Int16Array.
 */
export class PcmFramer {
  readonly #frameSamples: number;
  #frame: Int16Array;
  #filled = 0;

  constructor(frameSamples: number) {
    if (!Number.isInteger(frameSamples) || frameSamples <= 0)
      throw new RangeError(`frameSamples must be an integer > 0, got ${frameSamples}`);
    this.#frameSamples = frameSamples;
    this.#frame = new Int16Array(frameSamples);
  }

  push(block: Float32Array): Int16Array[] {
    const done: Int16Array[] = [];
    let read = 0;
    while (read < block.length) {
      const take = Math.min(block.length - read, this.#frameSamples - this.#filled);
      floatToS16(block.subarray(read, read + take), this.#frame, this.#filled);
      this.#filled += take;
      read += take;
      if (this.#filled === this.#frameSamples) {
        done.push(this.#frame);
        this.#frame = new Int16Array(this.#frameSamples);
        this.#filled = 0;
      }
    }
    return done;
  }

  /** Samples waiting for the next frame. */
  get pending(): number {
    return this.#filled;
  }
}

/** Averages the channels of one render block into mono (copies the only channel as is). */
export function downmix(channels: readonly Float32Array[]): Float32Array {
  const first = channels[0];
  if (first === undefined) return new Float32Array(0);
  if (channels.length === 1) return first;
  const out = new Float32Array(first.length);
  for (const channel of channels) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (channel[i] ?? 0);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / channels.length;
  return out;
}
