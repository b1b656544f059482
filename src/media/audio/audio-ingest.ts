/**
 * The audio path of one socket (docs/DESIGN.md §4.4, §5.6): validate -> s16le to mono -> resample to
 * 16 kHz -> speaking gate -> 48000-sample chunks. Pure; one instance per feeding socket of a
 * participant (src/session/media-intake.ts keeps them), with one resampler, voice gate and chunk
 * buffer per audio track.
 *
 * Who decides "speaking" (per socket):
 * - client VAD (Hello.vad = true, or as soon as any Speaking message arrives): the client's
 *   Speaking markers are trusted and apply to every track of that socket. While not speaking,
 *   frames are validated and dropped without resampling; speaking(false) drains the resampler's
 *   lookahead and flushes.
 * - otherwise the built-in VoiceGate runs on each track's 16 kHz signal. Its starts are back-dated
 *   by up to 80 ms; the last VAD_START_WINDOWS windows are kept so that audio is not lost.
 * Switching mode ends the current utterances (flushed as at speech end when a clock is given).
 *
 * The minimum interval between chunks applies per track (a participant normally has one microphone).
 */
import {
  AUDIO_INTERVAL_S,
  AUDIO_MAX_FRAME_MS,
  AUDIO_MAX_TRACKS,
  VAD_START_WINDOWS,
  VAD_WINDOW_SAMPLES,
} from "../../config/limits.js";
import { AudioChunker } from "./chunker.js";
import { AudioError, validatePcmFrame } from "../../protocol/audio-frames.js";
import { Resampler } from "./resampler.js";
import { VoiceGate } from "./vad.js";

export interface AudioIngestOptions {
  /** Minimum ms between two chunks of a track; 0 = no limit. Default AUDIO_INTERVAL_S. */
  intervalMs?: number;
  maxTracks?: number;
  maxFrameMs?: number;
  /** Start in client-VAD mode (a socket that said Hello{vad: true} before hibernation). */
  clientVad?: boolean;
}

/** An AudioFrame as parsed from a client or SFU message (structural). */
export interface AudioFrameInput {
  trackId: string;
  sampleRate: number;
  channels: number;
  data: Uint8Array;
}

/** One upstream PCM message: 96000 bytes of s16le mono 16 kHz audio. */
export interface AudioChunk {
  trackId: string;
  pcm: Uint8Array;
}

const PREROLL_SAMPLES = VAD_START_WINDOWS * VAD_WINDOW_SAMPLES;

interface Track {
  resampler: Resampler;
  gate: VoiceGate;
  chunker: AudioChunker;
  /** Last PREROLL_SAMPLES resampled samples, ending at gate.samplesSeen. */
  recent: Tail;
}

export class AudioIngest {
  readonly #tracks = new Map<string, Track>();
  readonly #intervalMs: number;
  readonly #maxTracks: number;
  readonly #maxFrameMs: number;
  #clientVad = false;
  #clientSpeaking = false;
  #allowNextChunk = false;

  constructor(options: AudioIngestOptions = {}) {
    this.#intervalMs = options.intervalMs ?? AUDIO_INTERVAL_S * 1000;
    this.#maxTracks = options.maxTracks ?? AUDIO_MAX_TRACKS;
    this.#maxFrameMs = options.maxFrameMs ?? AUDIO_MAX_FRAME_MS;
    this.#clientVad = options.clientVad ?? false;
  }

  /** True when the client's Speaking markers decide; false when the built-in gate does. */
  get clientVad(): boolean {
    return this.#clientVad;
  }

  /** Whether any track is currently gathering speech. */
  get speakingNow(): boolean {
    if (this.#clientVad) return this.#clientSpeaking;
    for (const track of this.#tracks.values()) if (track.gate.speaking) return true;
    return false;
  }

  /**
   * Hello.vad: true trusts the client's Speaking messages; false uses the built-in gate. A change of
   * mode ends the current utterances: flushed (>= 1 s, padded) when nowMs is given, else discarded.
   */
  setClientVad(enabled: boolean, nowMs?: number): AudioChunk[] {
    if (enabled === this.#clientVad) return [];
    const chunks = this.#endAll(nowMs);
    this.#clientVad = enabled;
    this.#restart();
    return chunks;
  }

  /** Ends every current utterance (socket closing, stream over): returns what is worth sending. */
  flush(nowMs: number): AudioChunk[] {
    const chunks = this.#endAll(nowMs);
    this.#restart();
    return chunks;
  }

  /** A Speaking message. The first one switches this socket to client VAD. */
  speaking(value: boolean, nowMs: number): AudioChunk[] {
    const chunks = this.#clientVad ? [] : this.setClientVad(true, nowMs);
    if (value === this.#clientSpeaking) return chunks;
    if (!value) chunks.push(...this.#endAll(nowMs));
    this.#clientSpeaking = value;
    return chunks;
  }

  /**
   * Validates and processes one frame (throws AudioError, code "bad_audio"); returns the chunks to
   * send upstream as PCM FrameRequests. A change of sample rate restarts the track's resampler.
   */
  pushFrame(frame: AudioFrameInput, nowMs: number): AudioChunk[] {
    validatePcmFrame(frame, this.#maxFrameMs);
    const track = this.#track(frame.trackId, frame.sampleRate);
    if (this.#clientVad && !this.#clientSpeaking) return [];
    // A view valid until the track's next frame: the gate reads it, the chunker and pre-roll copy it.
    const x = track.resampler.pushS16le(frame.data, frame.channels);
    if (this.#clientVad) return label(frame.trackId, track.chunker.push(x, true, nowMs));
    return label(frame.trackId, this.#gated(track, x, nowMs));
  }

  /** An on-demand check: the next chunk of any track may go inside the interval (until turned off). */
  allowNextChunk(on: boolean): void {
    this.#allowNextChunk = on;
    for (const track of this.#tracks.values()) track.chunker.allowNextChunk(on);
  }

  /** Forgets a closed track; its buffered audio is dropped. */
  forgetTrack(trackId: string): void {
    this.#tracks.delete(trackId);
  }

  /**
   * Built-in gate: feeds the gate, then the chunker with each sample labelled by the gate's decision.
   * Allocates nothing for a frame that completes no chunk (most of them).
   */
  #gated(track: Track, x: Float32Array, nowMs: number): Uint8Array[] {
    const before = track.gate.samplesSeen;
    const wasSpeaking = track.gate.speaking;
    const transitions = track.gate.push(x);
    let out = NO_PCM;
    let cursor = before;
    let speaking = wasSpeaking;
    for (const t of transitions) {
      if (t.speaking) {
        if (t.atSample < before) {
          const preroll = track.recent.last(before - t.atSample);
          out = joined(out, track.chunker.push(preroll, true, nowMs));
          cursor = before;
        } else {
          cursor = t.atSample;
        }
      } else {
        out = joined(out, track.chunker.push(x.subarray(cursor - before, t.atSample - before), true, nowMs));
        out = joined(out, track.chunker.speechEnded(nowMs));
        cursor = t.atSample;
      }
      speaking = t.speaking;
    }
    if (speaking) {
      out = joined(out, track.chunker.push(cursor === before ? x : x.subarray(cursor - before), true, nowMs));
    }
    track.recent.push(x);
    return out;
  }

  /**
   * Ends the utterance on every track: drains resampler lookahead (client VAD) and flushes, or
   * discards without a clock.
   */
  #endAll(nowMs: number | undefined): AudioChunk[] {
    const chunks: AudioChunk[] = [];
    for (const [trackId, track] of this.#tracks) {
      if (nowMs === undefined) {
        track.chunker.discard();
        continue;
      }
      const out: Uint8Array[] = [];
      if (this.#clientVad && this.#clientSpeaking)
        out.push(...track.chunker.push(track.resampler.flush(), true, nowMs));
      out.push(...track.chunker.speechEnded(nowMs));
      chunks.push(...label(trackId, out));
    }
    return chunks;
  }

  /** Fresh resampler, gate and pre-roll on every track (chunk interval clocks are kept). */
  #restart(): void {
    this.#clientSpeaking = false;
    for (const track of this.#tracks.values()) {
      track.resampler.reset();
      track.gate.reset();
      track.recent.clear();
    }
  }

  #track(trackId: string, sampleRate: number): Track {
    let track = this.#tracks.get(trackId);
    if (!track) {
      if (this.#tracks.size >= this.#maxTracks) {
        throw new AudioError(`too many audio tracks (at most ${this.#maxTracks} per socket)`);
      }
      track = {
        resampler: new Resampler(sampleRate),
        gate: new VoiceGate(),
        chunker: new AudioChunker({ intervalMs: this.#intervalMs }),
        recent: new Tail(PREROLL_SAMPLES),
      };
      track.chunker.allowNextChunk(this.#allowNextChunk);
      this.#tracks.set(trackId, track);
    } else if (track.resampler.inputRateHz !== sampleRate) {
      track.resampler = new Resampler(sampleRate);
    }
    return track;
  }
}

/**
 * Shared empty results: most frames complete no chunk, and returning these allocates nothing. Frozen,
 * so that code adding to a result it did not build fails loudly instead of corrupting the next one.
 */
const NO_PCM = Object.freeze([]) as unknown as Uint8Array[];
const NO_CHUNKS = Object.freeze([]) as unknown as AudioChunk[];

/** `out` followed by `more`, without copying when either is empty. */
function joined(out: Uint8Array[], more: Uint8Array[]): Uint8Array[] {
  if (more.length === 0) return out;
  return out.length === 0 ? more : [...out, ...more];
}

function label(trackId: string, pcms: Uint8Array[]): AudioChunk[] {
  return pcms.length === 0 ? NO_CHUNKS : pcms.map((pcm) => ({ trackId, pcm }));
}

/**
 * The last `keep` samples of a stream, without an allocation per frame (this runs for every audio
 * message): a buffer of twice that length is appended to and, when full, its tail moved to the front.
 */
export class Tail {
  readonly #buf: Float32Array;
  #end = 0;

  constructor(readonly keep: number) {
    this.#buf = new Float32Array(2 * keep);
  }

  get length(): number {
    return Math.min(this.#end, this.keep);
  }

  push(x: Float32Array): void {
    const keep = this.keep;
    if (x.length >= keep) {
      this.#buf.set(x.subarray(x.length - keep));
      this.#end = keep;
      return;
    }
    if (this.#end + x.length > this.#buf.length) {
      const held = Math.min(this.#end, keep);
      this.#buf.copyWithin(0, this.#end - held, this.#end);
      this.#end = held;
    }
    this.#buf.set(x, this.#end);
    this.#end += x.length;
  }

  /** The last min(n, length) samples (a view, valid until the next push). */
  last(n: number): Float32Array {
    return this.#buf.subarray(this.#end - Math.min(Math.max(0, n), this.length), this.#end);
  }

  clear(): void {
    this.#end = 0;
  }
}
