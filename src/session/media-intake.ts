/**
 * Media intake for one participant: client and SFU messages in, serialized FrameRequests out.
 *   video: source filter -> sampler -> pixels -> JPEG          (src/media/video-ingest.ts)
 *   audio: speaking gate -> mono -> 16 kHz -> 48000-sample chunks (src/media/audio/audio-ingest.ts)
 * Pure: the JPEG encoder and the outputs are injected, so the Durable Object stays a thin shell.
 */
import { AudioIngest, type AudioChunk } from "../media/audio/audio-ingest.js";
import { AudioError } from "../media/audio/pcm.js";
import { VideoIngest, type VideoIngestOptions } from "../media/video-ingest.js";
import { FrameFormat, encodeFrameRequest } from "../upstream/codec.js";
import { ClientInputError, type ClientInput } from "./client-messages.js";
import { sfuPcmFrame, type SfuPacket } from "./sfu-packets.js";

/** Track ids used for SFU adapter feeds (the adapter carries none). */
export const SFU_VIDEO_TRACK = "sfu-video";
export const SFU_AUDIO_TRACK = "sfu-audio";

export type IntakeCounter =
  | "frames_received"
  | "frames_sampled"
  | "frames_skipped"
  | "screen_frames_dropped"
  | "audio_frames_received"
  | "audio_chunks_sent";

export interface IntakeOutputs {
  /** One serialized FrameRequest for the upstream queue. */
  send(frameRequest: Uint8Array): void;
  count(name: IntakeCounter): void;
}

export interface MediaIntakeOptions {
  participantId: string;
  video: VideoIngestOptions;
  audioIntervalMs: number;
  outputs: IntakeOutputs;
}

export class MediaIntake {
  readonly #video: VideoIngest;
  /** Client audio: trusts Speaking markers once the client sends them, else the built-in gate. */
  readonly #audio: AudioIngest;
  /** SFU adapter audio: always the built-in gate. */
  readonly #sfuAudio: AudioIngest;

  constructor(private readonly options: MediaIntakeOptions) {
    this.#video = new VideoIngest(options.video);
    this.#audio = new AudioIngest({ intervalMs: options.audioIntervalMs });
    this.#sfuAudio = new AudioIngest({ intervalMs: options.audioIntervalMs });
  }

  get videoFps(): number {
    return this.#video.fps;
  }

  setVideoFps(fps: number, nowMs: number): void {
    this.#video.setFps(fps, nowMs);
  }

  /** Handles one parsed client message; returns the track it fed media to, if any. Throws ClientInputError. */
  async client(input: ClientInput, nowMs: number): Promise<string | null> {
    const out = this.options.outputs;
    switch (input.kind) {
      case "hello":
        this.#sendAudio(this.#audio.setClientVad(input.vad, nowMs), nowMs);
        return null;
      case "speaking":
        this.#sendAudio(this.#audio.speaking(input.speaking, nowMs), nowMs);
        return null;
      case "audio":
        out.count("audio_frames_received");
        this.#sendAudio(pushAudio(this.#audio, input, nowMs), nowMs);
        return input.trackId;
      case "video": {
        out.count("frames_received");
        const outcome = await this.#video.process(input, nowMs);
        if (outcome.kind !== "jpeg") {
          out.count(outcome.kind === "screen" ? "screen_frames_dropped" : "frames_skipped");
          return null;
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
        );
        return outcome.trackId;
      }
    }
  }

  /** A Realtime SFU adapter Packet: a JPEG (video feed) or 48 kHz stereo PCM (audio feed). */
  async sfu(feed: "video" | "audio", packet: SfuPacket, nowMs: number): Promise<string> {
    if (feed === "audio") {
      this.options.outputs.count("audio_frames_received");
      this.#sendAudio(pushAudio(this.#sfuAudio, sfuPcmFrame(packet, SFU_AUDIO_TRACK), nowMs), nowMs);
      return SFU_AUDIO_TRACK;
    }
    await this.client({ kind: "video", trackId: SFU_VIDEO_TRACK, width: 0, height: 0, format: "JPEG", source: "camera", timestampMs: nowMs, data: packet.payload }, nowMs);
    return SFU_VIDEO_TRACK;
  }

  /** A feeding socket left: an utterance in progress is still sent (zero-padded, if >= 1 s). */
  endFeed(feed: "client" | "audio", nowMs: number): void {
    this.#sendAudio((feed === "audio" ? this.#sfuAudio : this.#audio).flush(nowMs), nowMs);
  }

  forgetTrack(trackId: string): void {
    this.#video.forgetTrack(trackId);
    this.#audio.forgetTrack(trackId);
    this.#sfuAudio.forgetTrack(trackId);
  }

  #sendAudio(chunks: AudioChunk[], nowMs: number): void {
    for (const chunk of chunks) {
      this.options.outputs.count("audio_chunks_sent");
      this.options.outputs.send(
        encodeFrameRequest({ participantId: this.options.participantId, trackId: chunk.trackId, timestampMs: nowMs, format: FrameFormat.PCM, data: chunk.pcm }),
      );
    }
  }
}

function pushAudio(ingest: AudioIngest, frame: { trackId: string; sampleRate: number; channels: number; data: Uint8Array }, nowMs: number): AudioChunk[] {
  try {
    return ingest.pushFrame(frame, nowMs);
  } catch (err) {
    if (err instanceof AudioError) throw new ClientInputError("bad_audio", err.message);
    throw err;
  }
}
