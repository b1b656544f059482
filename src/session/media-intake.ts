/**
 * Media intake for one participant: client and SFU messages in, serialized FrameRequests out.
 *   video: source filter -> encode budget, sampler -> JPEG     (src/media/video-ingest.ts)
 *   audio: speaking gate -> mono -> 16 kHz -> 48000-sample chunks (src/media/audio/audio-ingest.ts)
 * Pure: the JPEG encoder and the outputs are injected, so the Durable Object stays a thin shell.
 *
 * Speaking state and client VAD belong to the socket that sent them (docs/DESIGN.md §5.6): each feeding
 * connection has its own AudioIngest, so a second socket of the participant (a dashboard, a
 * playground) never cuts, flushes or re-gates the first one's utterance. The `audio` hint (docs/DESIGN.md
 * §5.2: speech not wanted during the interval's pause after a chunk) is per connection too.
 *
 * While an on-demand check waits for speech (docs/DESIGN.md §13), the participant's next chunk goes even
 * inside AUDIO_INTERVAL_S, and the hint says speech is wanted: one chunk, from whichever connection
 * completes one first.
 */
import { AudioHint } from "../media/audio/audio-hint.js";
import { AudioIngest, type AudioChunk } from "../media/audio/audio-ingest.js";
import { VideoIngest, type EncodeBudget, type VideoIngestOptions } from "../media/video-ingest.js";
import { FrameFormat, encodeFrameRequest } from "../protocol/dataspike.js";
import type { AudioHintEvent } from "../protocol/events.js";
import type { ClientInput } from "../protocol/client-messages.js";
import { sfuPcmFrame, type SfuPacket } from "../protocol/sfu-packets.js";

const SKIP_COUNTERS = {
  screen: "screen_frames_dropped",
  busy: "frames_busy",
  throttled: "frames_throttled",
  skipped: "frames_skipped",
} as const;

/** Track ids used for SFU adapter feeds (the adapter carries none). */
export const SFU_VIDEO_TRACK = "sfu-video";
export const SFU_AUDIO_TRACK = "sfu-audio";

export type IntakeCounter =
  | "frames_received"
  | "frames_sampled"
  | "frames_skipped"
  | "frames_busy"
  | "frames_throttled"
  | "screen_frames_dropped"
  | "audio_frames_received"
  | "audio_chunks_sent";

export interface IntakeOutputs {
  /** One serialized FrameRequest for the upstream queue, feeding `trackId`. */
  send(frameRequest: Uint8Array, trackId: string): void;
  count(name: IntakeCounter): void;
}

export interface MediaIntakeOptions {
  participantId: string;
  video: VideoIngestOptions;
  audioIntervalMs: number;
  outputs: IntakeOutputs;
}

/** The connection a message came from. */
export interface Feed {
  /** Stable id of the socket (its attachment's id). */
  connectionId: string;
  /** The socket's client-VAD flag as last persisted (Hello.vad, or true after a Speaking message). */
  clientVad: boolean;
  /** The video rate for this connection now (its own override, never above the participant's). */
  videoFps: number;
  /** Raw pixels this connection may still have encoded (its per-socket budget); unlimited when absent. */
  encodeBudget?: EncodeBudget;
}

export class MediaIntake {
  readonly #video: VideoIngest;
  /** One audio path per feeding connection: client sockets and SFU audio adapters alike. */
  readonly #audio = new Map<string, AudioIngest>();
  /** The `audio` hint of each connection that has sent a chunk upstream. */
  readonly #hints = new Map<string, AudioHint>();
  /** An on-demand check is waiting for its speech chunk. */
  #checkChunk = false;

  constructor(private readonly options: MediaIntakeOptions) {
    this.#video = new VideoIngest(options.video);
  }

  get videoFps(): number {
    return this.#video.fps;
  }

  setVideoFps(fps: number, nowMs: number): void {
    this.#video.setFps(fps, nowMs);
  }

  /**
   * A check starts (true) or ends (false): the next chunk may go inside the audio interval, and
   * speech is wanted meanwhile (poll audioHint to tell each connection).
   */
  allowCheckChunk(on: boolean): void {
    this.#checkChunk = on;
    for (const audio of this.#audio.values()) audio.allowNextChunk(on);
    for (const hint of this.#hints.values()) hint.checkWaiting(on);
  }

  /**
   * Handles one parsed client message; returns the track it carried media for, if any (the socket
   * then owns that track). Throws ClientInputError.
   */
  async ingestClientMessage(feed: Feed, input: ClientInput, nowMs: number): Promise<string | null> {
    const out = this.options.outputs;
    switch (input.kind) {
      case "hello":
        this.#sendAudio(feed, this.#audioOf(feed).setClientVad(input.vad, nowMs), nowMs);
        return null;
      case "speaking":
        this.#sendAudio(feed, this.#audioOf(feed).speaking(input.speaking, nowMs), nowMs);
        return null;
      case "check": // the socket layer hands checks to the checks capability
        return null;
      case "audio":
        out.count("audio_frames_received");
        this.#sendAudio(feed, this.#audioOf(feed).pushFrame(input, nowMs), nowMs);
        return input.trackId;
      case "video": {
        out.count("frames_received");
        const outcome = await this.#video.process(input, nowMs, feed.videoFps, feed.encodeBudget);
        if (outcome.kind !== "jpeg") {
          out.count(SKIP_COUNTERS[outcome.kind]);
          return outcome.kind === "screen" ? null : input.trackId;
        }
        out.count("frames_sampled");
        out.send(
          encodeFrameRequest({
            participantId: this.options.participantId,
            trackId: outcome.trackId,
            timestampMs: input.timestampMs > 0 ? input.timestampMs : nowMs,
            format: FrameFormat.JPEG,
            data: outcome.data,
          }),
          outcome.trackId,
        );
        return outcome.trackId;
      }
    }
  }

  /** A Realtime SFU adapter Packet: a JPEG (video feed) or 48 kHz stereo PCM (audio feed, built-in gate). */
  async ingestSfuPacket(feed: Feed, kind: "video" | "audio", packet: SfuPacket, nowMs: number): Promise<string> {
    if (kind === "audio") {
      this.options.outputs.count("audio_frames_received");
      const audio = this.#audioOf({ ...feed, clientVad: false });
      this.#sendAudio(feed, audio.pushFrame(sfuPcmFrame(packet, SFU_AUDIO_TRACK), nowMs), nowMs);
      return SFU_AUDIO_TRACK;
    }
    const frame: ClientInput = {
      kind: "video",
      trackId: SFU_VIDEO_TRACK,
      width: 0,
      height: 0,
      format: "JPEG",
      source: "camera",
      timestampMs: nowMs,
      data: packet.payload,
    };
    await this.ingestClientMessage(feed, frame, nowMs);
    return SFU_VIDEO_TRACK;
  }

  /** A feeding socket left: its utterance in progress is still sent (zero-padded, if >= 1 s). */
  endFeed(connectionId: string, nowMs: number): void {
    const audio = this.#audio.get(connectionId);
    if (!audio) return;
    this.#audio.delete(connectionId);
    this.#hints.delete(connectionId);
    this.#sendAudio(null, audio.flush(nowMs), nowMs);
  }

  /**
   * The connection's `audio` event to send now, when whether its speech is wanted changed since it
   * was last told (a chunk went upstream, or the pause after one is over); null otherwise.
   */
  audioHint(connectionId: string, nowMs: number): AudioHintEvent | null {
    return this.#hints.get(connectionId)?.poll(nowMs) ?? null;
  }

  forgetTrack(trackId: string): void {
    this.#video.forgetTrack(trackId);
    for (const audio of this.#audio.values()) audio.forgetTrack(trackId);
  }

  /** The connection's audio path; after hibernation it is rebuilt with the socket's persisted VAD flag. */
  #audioOf(feed: Feed): AudioIngest {
    let audio = this.#audio.get(feed.connectionId);
    if (!audio) {
      audio = new AudioIngest({ intervalMs: this.options.audioIntervalMs, clientVad: feed.clientVad });
      audio.allowNextChunk(this.#checkChunk);
      this.#audio.set(feed.connectionId, audio);
    }
    return audio;
  }

  #sendAudio(feed: Feed | null, chunks: AudioChunk[], nowMs: number): void {
    if (chunks.length > 0 && feed !== null && this.options.audioIntervalMs > 0) {
      let hint = this.#hints.get(feed.connectionId);
      if (!hint) this.#hints.set(feed.connectionId, (hint = new AudioHint(this.options.audioIntervalMs)));
      hint.chunkSent(nowMs);
    }
    if (chunks.length > 0 && this.#checkChunk) this.allowCheckChunk(false); // the check had its chunk
    for (const chunk of chunks) {
      this.options.outputs.count("audio_chunks_sent");
      this.options.outputs.send(
        encodeFrameRequest({
          participantId: this.options.participantId,
          trackId: chunk.trackId,
          timestampMs: nowMs,
          format: FrameFormat.PCM,
          data: chunk.pcm,
        }),
        chunk.trackId,
      );
    }
  }
}
