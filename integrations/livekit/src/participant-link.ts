/**
 * One LiveKit participant as one participant of this service: its SDK client, and a pump per
 * subscribed camera or microphone track. Camera frames are offered to the SDK as they arrive, and
 * converted to I420 only when one is due at the rate the service announced (0.2 fps in CLEAR), so a
 * 30 fps camera costs one conversion every 5 s. The track sid is the service's track id, so every
 * transition names the LiveKit track it came from.
 */
import { VideoBufferType, type AudioFrame, type RemoteTrack, type VideoFrame } from "@livekit/rtc-node";
import type { DeepfakeAlert, DeepfakeEdgeClient, ReadyEvent } from "@deepfake-edge/client";
import { pumpAudio, pumpVideo, type Pump } from "./media.js";

export type MediaKind = "camera" | "microphone";

export interface LinkCounters {
  videoFramesIn: number;
  audioFramesIn: number;
}

export interface LinkEvents {
  alert(alert: DeepfakeAlert): void;
  ready(ready: ReadyEvent): void;
  problem(message: string): void;
}

/** The frame's pixels as tightly packed I420 (what a LiveKit decoder gives, usually without a copy). */
export function i420Of(frame: VideoFrame): Uint8Array {
  return frame.type === VideoBufferType.I420 ? frame.data : frame.convert(VideoBufferType.I420).data;
}

export class ParticipantLink {
  readonly counters: LinkCounters = { videoFramesIn: 0, audioFramesIn: 0 };
  readonly #pumps = new Map<string, Pump>();
  readonly #events: LinkEvents;
  #closed = false;

  constructor(
    readonly identity: string,
    readonly participantId: string,
    readonly client: DeepfakeEdgeClient,
    events: LinkEvents,
  ) {
    this.#events = events;
    client.on("deepfake_alert", (alert) => events.alert(alert));
    client.on("ready", (ready) => events.ready(ready));
    client.on("auth_error", (err) => events.problem(`${participantId}: connect token refused: ${err.message}`));
    client.on("error", (err) => events.problem(`${participantId}: the service refused a message: ${err.code}`));
    client.connect().catch(() => undefined); // reconnects on its own; a refused token is reported above
  }

  get trackSids(): string[] {
    return [...this.#pumps.keys()];
  }

  /** Starts streaming a subscribed track (idempotent per sid). */
  addTrack(sid: string, kind: MediaKind, track: RemoteTrack, onError: (err: Error) => void): void {
    if (this.#closed || this.#pumps.has(sid)) return;
    const pump =
      kind === "camera"
        ? pumpVideo(track, (frame) => this.#onVideo(sid, frame), onError)
        : pumpAudio(track, (frame) => this.#onAudio(sid, frame), onError);
    this.#pumps.set(sid, pump);
    void pump.done.then(() => {
      if (this.#pumps.get(sid) === pump) this.#pumps.delete(sid);
    });
  }

  async removeTrack(sid: string): Promise<void> {
    const pump = this.#pumps.get(sid);
    this.#pumps.delete(sid);
    await pump?.stop();
  }

  /** LiveKit's active-speaker signal (only with --speaking livekit). */
  setSpeaking(speaking: boolean): void {
    if (!this.#closed) this.client.setSpeaking(speaking);
  }

  /** Stops every pump and leaves the service (the participant shows as left in its room). */
  async close(reason = "participant left"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pumps = [...this.#pumps.values()];
    this.#pumps.clear();
    await Promise.all(pumps.map((p) => p.stop()));
    this.client.close(1000, reason);
  }

  #onVideo(sid: string, frame: VideoFrame): void {
    this.counters.videoFramesIn++;
    const { width, height } = frame;
    const meta = { trackId: sid, width, height, format: "I420" as const, source: "camera" as const };
    this.client.captureVideo(meta, () => i420Of(frame)).catch((err: Error) => {
      if (!this.#closed) this.#events.problem(`${this.participantId}: a video frame was not sent: ${err.message}`);
    });
  }

  #onAudio(sid: string, frame: AudioFrame): void {
    this.counters.audioFramesIn++;
    this.client.sendAudio({ trackId: sid, sampleRate: frame.sampleRate, channels: frame.channels, data: frame.data });
  }
}
