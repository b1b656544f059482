/**
 * Cloudflare Realtime SFU WebSocket adapter packets (docs/DESIGN.md §5): the Packet wire format byte by
 * byte, the parser's error codes, and garbage never escaping as anything but ClientInputError.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseSfuPacket, sfuPcmFrame } from "../../src/protocol/sfu-packets";
import { ClientInputError, type ClientErrorCode } from "../../src/protocol/client-messages";
import { cloudflare } from "../../src/gen/packet.js";
import { AudioIngest } from "../../src/media/audio/audio-ingest";
import { dominantFrequencyHz } from "../support/audio-analysis";
import { MAX_CLIENT_MESSAGE_BYTES } from "../../src/config/limits";
import { frames, readS16le, s16le, tone } from "./audio-signals";

const { Packet } = cloudflare.realtime.v1;

function buffer(bytes: number[] | Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function codeOf(message: ArrayBuffer | string, maxBytes?: number): ClientErrorCode {
  try {
    parseSfuPacket(message, maxBytes);
  } catch (err) {
    expect(err).toBeInstanceOf(ClientInputError);
    return (err as ClientInputError).code;
  }
  throw new Error("expected a ClientInputError");
}

describe("Packet wire format", () => {
  it("reads sequenceNumber = 1, timestamp = 2 (varints) and payload = 5 (bytes)", () => {
    // 0x08 = field 1 varint, 0x10 = field 2 varint, 0x2a = field 5 length-delimited
    const packet = parseSfuPacket(buffer([0x08, 0xac, 0x02, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x2a, 0x03, 0xff, 0xd8, 0xff]));
    expect(packet.sequenceNumber).toBe(300);
    expect(packet.timestamp).toBe(4_294_967_295);
    expect(Array.from(packet.payload)).toEqual([0xff, 0xd8, 0xff]);
  });

  it("accepts a payload-only packet (video: no sequence number) and skips unknown fields", () => {
    const packet = parseSfuPacket(buffer([0x18, 0x07, 0x22, 0x01, 0x00, 0x2a, 0x02, 0x01, 0x02]));
    expect(packet).toEqual({ sequenceNumber: 0, timestamp: 0, payload: new Uint8Array([1, 2]) });
  });

  it("is byte-compatible with the generated encoder", () => {
    const bytes = Packet.encode({ sequenceNumber: 5, timestamp: 960, payload: new Uint8Array([9, 8]) }).finish();
    expect(Array.from(bytes)).toEqual([0x08, 0x05, 0x10, 0xc0, 0x07, 0x2a, 0x02, 0x09, 0x08]);
  });
});

describe("parseSfuPacket rejections", () => {
  it("text", () => expect(codeOf("hello")).toBe("text_not_supported"));
  it("an empty message or an empty payload", () => {
    expect(codeOf(buffer([]))).toBe("empty_message");
    expect(codeOf(buffer([0x08, 0x01, 0x2a, 0x00]))).toBe("empty_message");
  });
  it("a truncated payload or a bad varint", () => {
    expect(codeOf(buffer([0x2a, 0x05, 0x01]))).toBe("decode_failed");
    expect(codeOf(buffer([0x08, 0xff, 0xff]))).toBe("decode_failed");
  });
  it("oversize messages, at the limit + 1", () => {
    expect(codeOf(new ArrayBuffer(MAX_CLIENT_MESSAGE_BYTES + 1))).toBe("message_too_large");
    expect(codeOf(buffer([0x2a, 0x02, 0x01, 0x02]), 3)).toBe("message_too_large");
    expect(parseSfuPacket(buffer([0x2a, 0x02, 0x01, 0x02]), 4).payload.byteLength).toBe(2);
  });
});

describe("parseSfuPacket properties", () => {
  const codes: ClientErrorCode[] = ["decode_failed", "empty_message", "message_too_large"];

  it("any bytes either parse to a packet with a payload or fail with a ClientInputError code", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const packet = parseSfuPacket(buffer(bytes));
          expect(packet.payload.byteLength).toBeGreaterThan(0);
          expect(Number.isInteger(packet.sequenceNumber) && packet.sequenceNumber >= 0).toBe(true);
          expect(Number.isInteger(packet.timestamp) && packet.timestamp >= 0).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(ClientInputError);
          expect(codes).toContain((err as ClientInputError).code);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("round-trips every encoded packet", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.uint8Array({ minLength: 1, maxLength: 200 }), (seq, ts, payload) => {
        const bytes = Packet.encode({ sequenceNumber: seq, timestamp: ts, payload }).finish();
        const packet = parseSfuPacket(buffer(bytes));
        expect(packet.sequenceNumber).toBe(seq);
        expect(packet.timestamp).toBe(ts);
        expect(Array.from(packet.payload)).toEqual(Array.from(payload));
      }),
    );
  });
});

describe("SFU PCM packets feed the audio path", () => {
  it("48 kHz stereo s16le packets of a 440 Hz tone become 96000-byte chunks through the built-in gate", () => {
    const ingest = new AudioIngest({ intervalMs: 0 });
    const signal = new Float32Array(48_000 * 5);
    signal.set(tone(440, 48_000, 4, 0.5), 24_000); // 0.5 s silence, 4 s tone, 0.5 s silence
    const chunks = frames(signal, 960).flatMap((left, i) => {
      const bytes = Packet.encode({ sequenceNumber: i, timestamp: i * 960, payload: s16le(left, left) }).finish();
      const packet = parseSfuPacket(buffer(bytes));
      return ingest.pushFrame(sfuPcmFrame(packet, "sfu-audio"), i * 20);
    });
    expect(chunks.map((c) => c.pcm.byteLength)).toEqual([96_000, 96_000]);
    expect(chunks[0]?.trackId).toBe("sfu-audio");
    expect(Math.abs(dominantFrequencyHz(readS16le(chunks[0]!.pcm), 16_000) - 440)).toBeLessThanOrEqual(5);
  });
});
