/**
 * Parses untrusted client WebSocket messages (docs/DESIGN.md §5) into typed inputs. Pure: never throws
 * anything but ClientInputError, whose code and message go back to the client as an `error` event.
 */
import "./proto-runtime.js";
import { deepfake_edge } from "../gen/ingest.js";
import { CHECK_MAX_DURATION_S, MAX_CLIENT_MESSAGE_BYTES, MAX_TRACK_ID_CHARS } from "../config/limits.js";

const v1 = deepfake_edge.v1;

export type VideoFormat = "RGB24" | "RGBA" | "I420" | "JPEG";

export type ClientInput =
  | { kind: "hello"; client: string; vad: boolean; honorsRate: boolean }
  | {
      kind: "video";
      trackId: string;
      width: number;
      height: number;
      format: VideoFormat;
      source: "camera" | "screen";
      timestampMs: number;
      data: Uint8Array;
    }
  | { kind: "audio"; trackId: string; sampleRate: number; channels: number; timestampMs: number; data: Uint8Array }
  | { kind: "speaking"; speaking: boolean }
  /** An on-demand check (docs/DESIGN.md §13); durationS 0 means the default window. */
  | { kind: "check"; durationS: number };

export type ClientErrorCode =
  | "text_not_supported"
  | "message_too_large"
  | "decode_failed"
  | "empty_message"
  | "bad_track_id"
  | "unsupported_format"
  | "bad_dimensions"
  | "bad_frame_size"
  | "frame_too_large"
  | "bad_audio"
  | "bad_jpeg"
  | "rate_limited"
  | "bad_check"
  | "check_rate_limited";

export class ClientInputError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ClientInputError";
  }
}

const FORMATS: Record<number, VideoFormat | undefined> = {
  [v1.PixelFormat.RGB24]: "RGB24",
  [v1.PixelFormat.RGBA]: "RGBA",
  [v1.PixelFormat.I420]: "I420",
  [v1.PixelFormat.JPEG]: "JPEG",
};

const TRACK_ID_PATTERN = /^[\x21-\x7e]+$/;

function trackId(raw: string, fallback: string): string {
  const id = raw === "" ? fallback : raw;
  if (id.length > MAX_TRACK_ID_CHARS || !TRACK_ID_PATTERN.test(id)) {
    throw new ClientInputError(
      "bad_track_id",
      `track_id must be 1-${MAX_TRACK_ID_CHARS} printable ASCII characters without spaces`,
    );
  }
  return id;
}

/** Decodes one client WebSocket message. Text messages are rejected: the ingest protocol is binary protobuf. */
export function parseClientMessage(message: ArrayBuffer | string, maxBytes = MAX_CLIENT_MESSAGE_BYTES): ClientInput {
  if (typeof message === "string") {
    throw new ClientInputError(
      "text_not_supported",
      "text messages are not accepted: send binary deepfake_edge.v1.ClientMessage protobuf",
    );
  }
  if (message.byteLength > maxBytes) {
    throw new ClientInputError(
      "message_too_large",
      `message of ${message.byteLength} bytes exceeds the ${maxBytes}-byte limit`,
    );
  }
  let decoded: ReturnType<typeof v1.ClientMessage.decode>;
  try {
    decoded = v1.ClientMessage.decode(new Uint8Array(message));
  } catch (err) {
    throw new ClientInputError("decode_failed", `not a valid ClientMessage: ${(err as Error).message}`);
  }
  switch (decoded.payload) {
    case "hello": {
      const h = decoded.hello as deepfake_edge.v1.Hello;
      return { kind: "hello", client: h.client.slice(0, 200), vad: h.vad, honorsRate: h.honorsRate };
    }
    case "video": {
      const v = decoded.video as deepfake_edge.v1.VideoFrame;
      const format = FORMATS[v.format];
      if (!format)
        throw new ClientInputError(
          "unsupported_format",
          `pixel format ${v.format} is not supported: use RGB24, RGBA, I420 or JPEG`,
        );
      if (v.data.byteLength === 0) throw new ClientInputError("empty_message", "video frame has no data");
      return {
        kind: "video",
        trackId: trackId(v.trackId, "camera"),
        width: v.width,
        height: v.height,
        format,
        source: v.source === v1.VideoSource.SCREEN ? "screen" : "camera",
        timestampMs: Number(v.timestampMs),
        data: v.data,
      };
    }
    case "audio": {
      const a = decoded.audio as deepfake_edge.v1.AudioFrame;
      return {
        kind: "audio",
        trackId: trackId(a.trackId, "microphone"),
        sampleRate: a.sampleRate,
        channels: a.channels,
        timestampMs: Number(a.timestampMs),
        data: a.data,
      };
    }
    case "speaking":
      return { kind: "speaking", speaking: (decoded.speaking as deepfake_edge.v1.Speaking).speaking };
    case "check": {
      const durationS = (decoded.check as deepfake_edge.v1.Check).durationS;
      if (durationS > CHECK_MAX_DURATION_S)
        throw new ClientInputError(
          "bad_check",
          `a check lasts at most ${CHECK_MAX_DURATION_S} s, asked ${durationS} s`,
        );
      return { kind: "check", durationS };
    }
    default:
      throw new ClientInputError(
        "empty_message",
        "ClientMessage has no payload (expected hello, video, audio, speaking or check)",
      );
  }
}
