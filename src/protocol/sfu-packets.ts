/**
 * Parses Cloudflare Realtime SFU WebSocket adapter messages (docs/DESIGN.md §5): one protobuf `Packet`
 * per binary message, carrying a JPEG (`outputCodec: "jpeg"`) or 48 kHz stereo s16le PCM
 * (`outputCodec: "pcm"`). Pure: never throws anything but ClientInputError.
 */
import "./proto-runtime.js";
import { cloudflare } from "../gen/packet.js";
import { MAX_CLIENT_MESSAGE_BYTES, SFU_AUDIO_CHANNELS, SFU_AUDIO_SAMPLE_RATE_HZ } from "../config/limits.js";
import { ClientInputError } from "./client-messages.js";

const { Packet } = cloudflare.realtime.v1;

export interface SfuPacket {
  sequenceNumber: number;
  timestamp: number;
  payload: Uint8Array;
}

/** Decodes one adapter message. Text, oversize, undecodable and payload-less messages are rejected. */
export function parseSfuPacket(message: ArrayBuffer | string, maxBytes = MAX_CLIENT_MESSAGE_BYTES): SfuPacket {
  if (typeof message === "string") {
    throw new ClientInputError(
      "text_not_supported",
      "text messages are not accepted: the SFU adapter sends binary Packet protobuf",
    );
  }
  if (message.byteLength > maxBytes) {
    throw new ClientInputError(
      "message_too_large",
      `message of ${message.byteLength} bytes exceeds the ${maxBytes}-byte limit`,
    );
  }
  let decoded: ReturnType<typeof Packet.decode>;
  try {
    decoded = Packet.decode(new Uint8Array(message));
  } catch (err) {
    throw new ClientInputError("decode_failed", `not a valid Packet: ${(err as Error).message}`);
  }
  if (decoded.payload.byteLength === 0) throw new ClientInputError("empty_message", "Packet has no payload");
  return { sequenceNumber: decoded.sequenceNumber >>> 0, timestamp: decoded.timestamp >>> 0, payload: decoded.payload };
}

/** The AudioFrame an adapter PCM packet stands for (outputCodec "pcm": 48 kHz, stereo, s16le). */
export function sfuPcmFrame(
  packet: SfuPacket,
  trackId: string,
): { trackId: string; sampleRate: number; channels: number; data: Uint8Array } {
  return { trackId, sampleRate: SFU_AUDIO_SAMPLE_RATE_HZ, channels: SFU_AUDIO_CHANNELS, data: packet.payload };
}
