/**
 * Synthetic LiveKit participants made with @livekit/rtc-node, as the tests' people: a camera (a
 * moving I420 test pattern), a screen share, a microphone (a 440 Hz tone, loud enough for the
 * service's voice gate), or none of them (a watcher that only listens for data messages).
 */
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  LocalVideoTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoFrame,
  VideoSource,
} from "@livekit/rtc-node";
import { AccessToken } from "livekit-server-sdk";
import type { LiveKitServerProcess } from "./livekit-server.js";

export interface PublisherSpec {
  identity: string;
  camera?: boolean;
  screen?: boolean;
  microphone?: boolean;
  /** Frames per second of the camera and the screen share (default 10). */
  fps?: number;
  width?: number;
  height?: number;
}

export interface Publisher {
  identity: string;
  room: Room;
  /** Track sids by source. */
  sids: { camera?: string; screen?: string; microphone?: string };
  /** Why the server disconnected it (set when it was disconnected, e.g. removed). */
  disconnectReason: number | null;
  /** Data messages received, with their topic. */
  data: Array<{ atMs: number; topic: string | undefined; text: string }>;
  leave(): Promise<void>;
  /** Leaves (if still in the room) and joins again as the same identity, publishing the same tracks anew (new sids). */
  rejoin(): Promise<void>;
}

export async function joinToken(server: LiveKitServerProcess, room: string, identity: string): Promise<string> {
  const token = new AccessToken(server.apiKey, server.apiSecret, { identity });
  token.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  return token.toJwt();
}

function i420Pattern(width: number, height: number, n: number): Uint8Array {
  const chroma = Math.ceil(width / 2) * Math.ceil(height / 2);
  const data = new Uint8Array(width * height + 2 * chroma);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) data[row + x] = (x + y + n * 4) & 0xff;
  }
  data.fill(128 + ((n * 3) & 63), width * height, width * height + chroma);
  data.fill(96, width * height + chroma);
  return data;
}

export async function startPublisher(
  server: LiveKitServerProcess,
  roomName: string,
  spec: PublisherSpec,
): Promise<Publisher> {
  const publisher: Publisher = {
    identity: spec.identity,
    room: new Room(),
    sids: {},
    disconnectReason: null,
    data: [],
    leave: async () => {},
    rejoin: async () => {
      await publisher.leave();
      publisher.room = new Room();
      await join(server, roomName, spec, publisher);
    },
  };
  await join(server, roomName, spec, publisher);
  return publisher;
}

/** Connects publisher.room (a new Room) and publishes spec's tracks, replacing sids and leave. */
async function join(server: LiveKitServerProcess, roomName: string, spec: PublisherSpec, publisher: Publisher) {
  const room = publisher.room;
  publisher.sids = {};
  publisher.disconnectReason = null;
  room.on(RoomEvent.Disconnected, (reason) => (publisher.disconnectReason = reason));
  room.on(RoomEvent.DataReceived, (payload, _participant, _kind, topic) => {
    publisher.data.push({ atMs: Date.now(), topic, text: new TextDecoder().decode(payload) });
  });
  const token = await joinToken(server, roomName, spec.identity);
  await room.connect(server.url, token, { autoSubscribe: false, dynacast: false });
  const local = room.localParticipant!;
  const { width = 320, height = 240, fps = 10 } = spec;
  const timers: Array<ReturnType<typeof setInterval>> = [];
  const sources: Array<{ close(): Promise<void> }> = [];

  const video = async (kind: "camera" | "screen"): Promise<void> => {
    const source = new VideoSource(width, height);
    const track = LocalVideoTrack.createVideoTrack(kind, source);
    const trackSource = kind === "camera" ? TrackSource.SOURCE_CAMERA : TrackSource.SOURCE_SCREENSHARE;
    publisher.sids[kind] = (await local.publishTrack(track, new TrackPublishOptions({ source: trackSource }))).sid;
    let n = 0;
    const capture = () => {
      source.captureFrame(new VideoFrame(i420Pattern(width, height, n++), width, height, VideoBufferType.I420));
    };
    timers.push(setInterval(capture, 1000 / fps));
    sources.push(source);
  };
  if (spec.camera) await video("camera");
  if (spec.screen) await video("screen");
  if (spec.microphone) {
    const rate = 48_000;
    const samples = rate / 10;
    const source = new AudioSource(rate, 1);
    const track = LocalAudioTrack.createAudioTrack("microphone", source);
    const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
    publisher.sids.microphone = (await local.publishTrack(track, options)).sid;
    let phase = 0;
    timers.push(
      setInterval(() => {
        const pcm = new Int16Array(samples);
        for (let i = 0; i < samples; i++) pcm[i] = Math.round(16_000 * Math.sin((2 * Math.PI * 440 * phase++) / rate));
        source.captureFrame(new AudioFrame(pcm, rate, 1, samples)).catch(() => undefined);
      }, 100),
    );
    sources.push(source);
  }
  publisher.leave = async () => {
    for (const timer of timers) clearInterval(timer);
    await room.disconnect().catch(() => undefined);
    await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
  };
}
