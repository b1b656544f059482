/**
 * Untrusted client messages (docs/DESIGN.md §5): the ingest.proto wire format, byte by byte, and the
 * parser's error codes. Property tests: nothing a client sends makes it throw anything else.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ClientInputError,
  parseClientMessage,
  type ClientErrorCode,
  type ClientInput,
} from "../../src/protocol/client-messages";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { MAX_CLIENT_MESSAGE_BYTES, MAX_TRACK_ID_CHARS } from "../../src/config/limits";

const v1 = deepfake_edge.v1;
const utf8 = (text: string): number[] => [...new TextEncoder().encode(text)];

/** Base-128 varint, computed independently of protobufjs (BigInt, so > 2^32 works). */
function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A length-delimited field (wire type 2). */
function len(tag: number, payload: number[]): number[] {
  return [tag, ...varint(payload.length), ...payload];
}

function buffer(bytes: number[] | Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function encode(message: deepfake_edge.v1.ClientMessage.$Shape): ArrayBuffer {
  const bytes = v1.ClientMessage.encode(message).finish();
  return buffer(bytes);
}

/** Parses and returns the ClientInputError (failing on success or on any other error). */
function rejection(message: ArrayBuffer | string, maxBytes?: number): ClientInputError {
  try {
    parseClientMessage(message, maxBytes);
  } catch (err) {
    expect(err).toBeInstanceOf(ClientInputError);
    return err as ClientInputError;
  }
  throw new Error("expected a ClientInputError");
}

function codeOf(message: ArrayBuffer | string, maxBytes?: number): ClientErrorCode {
  return rejection(message, maxBytes).code;
}

const RGB_2x1 = [255, 0, 0, 0, 255, 0];

describe("ingest.proto wire format (docs/DESIGN.md §5)", () => {
  it("VideoFrame fields 1..7 inside ClientMessage field 2", () => {
    const video = [
      ...len(0x0a, utf8("cam-1")), // track_id = 1, LEN
      0x10, ...varint(2), // width = 2, VARINT
      0x18, ...varint(1), // height = 3, VARINT
      0x20, 0x01, // format = 4, RGB24
      0x28, 0x01, // source = 5, CAMERA
      0x30, ...varint(1730123456789), // timestamp_ms = 6, int64 above 2^32
      ...len(0x3a, RGB_2x1), // data = 7, LEN
    ];
    const parsed = parseClientMessage(buffer(len(0x12, video)));
    expect(parsed).toEqual<ClientInput>({
      kind: "video",
      trackId: "cam-1",
      width: 2,
      height: 1,
      format: "RGB24",
      source: "camera",
      timestampMs: 1730123456789,
      data: expect.any(Uint8Array) as Uint8Array,
    });
    expect([...(parsed as Extract<ClientInput, { kind: "video" }>).data]).toEqual(RGB_2x1);
  });

  it("the generated encoder writes the same VideoFrame bytes", () => {
    const bytes = new Uint8Array(
      encode({
        video: { trackId: "cam-1", width: 1280, height: 720, format: v1.PixelFormat.JPEG, source: v1.VideoSource.SCREEN, timestampMs: 5, data: new Uint8Array([7]) },
      }),
    );
    const video = [...len(0x0a, utf8("cam-1")), 0x10, 0x80, 0x0a, 0x18, 0xd0, 0x05, 0x20, 0x04, 0x28, 0x02, 0x30, 0x05, 0x3a, 0x01, 0x07];
    expect([...bytes]).toEqual(len(0x12, video));
  });

  it("the enums keep their public numbers", () => {
    expect([v1.PixelFormat.PIXEL_FORMAT_UNSPECIFIED, v1.PixelFormat.RGB24, v1.PixelFormat.RGBA, v1.PixelFormat.I420, v1.PixelFormat.JPEG]).toEqual([0, 1, 2, 3, 4]);
    expect([v1.VideoSource.VIDEO_SOURCE_UNSPECIFIED, v1.VideoSource.CAMERA, v1.VideoSource.SCREEN]).toEqual([0, 1, 2]);
  });

  it("Hello fields 1..3 inside ClientMessage field 1", () => {
    const hello = [...len(0x0a, utf8("pipecat/0.1")), 0x10, 0x01, 0x18, 0x01];
    expect(parseClientMessage(buffer(len(0x0a, hello)))).toEqual({ kind: "hello", client: "pipecat/0.1", vad: true, honorsRate: true });
  });

  it("an empty Hello is still a hello, with defaults", () => {
    expect(parseClientMessage(buffer([0x0a, 0x00]))).toEqual({ kind: "hello", client: "", vad: false, honorsRate: false });
  });

  it("AudioFrame fields 1..5 inside ClientMessage field 3", () => {
    const audio = [
      ...len(0x0a, utf8("mic")),
      0x10, ...varint(48000), // sample_rate = 2
      0x18, 0x02, // channels = 3
      0x20, ...varint(1730123456789), // timestamp_ms = 4
      ...len(0x2a, [0x01, 0x00, 0xff, 0x7f]), // data = 5
    ];
    const parsed = parseClientMessage(buffer(len(0x1a, audio)));
    expect(parsed).toMatchObject({ kind: "audio", trackId: "mic", sampleRate: 48000, channels: 2, timestampMs: 1730123456789 });
    expect([...(parsed as Extract<ClientInput, { kind: "audio" }>).data]).toEqual([0x01, 0x00, 0xff, 0x7f]);
  });

  it("Speaking field 1 inside ClientMessage field 4; an empty Speaking means speaking=false", () => {
    expect(parseClientMessage(buffer([0x22, 0x02, 0x08, 0x01]))).toEqual({ kind: "speaking", speaking: true });
    expect(parseClientMessage(buffer([0x22, 0x00]))).toEqual({ kind: "speaking", speaking: false });
  });

  it("with two payloads on the wire the last one wins (protobuf oneof semantics)", () => {
    const bytes = [...len(0x0a, [...len(0x0a, utf8("x"))]), 0x22, 0x02, 0x08, 0x01];
    expect(parseClientMessage(buffer(bytes))).toEqual({ kind: "speaking", speaking: true });
  });
});

describe("parseClientMessage payload kinds", () => {
  it("hello truncates an absurdly long client name to 200 characters", () => {
    const parsed = parseClientMessage(encode({ hello: { client: "x".repeat(10_000), vad: true } }));
    expect(parsed).toEqual({ kind: "hello", client: "x".repeat(200), vad: true, honorsRate: false });
  });

  it.each([
    [v1.PixelFormat.RGB24, "RGB24"],
    [v1.PixelFormat.RGBA, "RGBA"],
    [v1.PixelFormat.I420, "I420"],
    [v1.PixelFormat.JPEG, "JPEG"],
  ] as const)("video format %i -> %s", (format, name) => {
    const parsed = parseClientMessage(encode({ video: { trackId: "t", width: 1, height: 1, format, data: new Uint8Array([1, 2, 3]) } }));
    expect(parsed).toMatchObject({ kind: "video", format: name, width: 1, height: 1, trackId: "t" });
  });

  it("source SCREEN -> screen; CAMERA and UNSPECIFIED -> camera", () => {
    const sourceOf = (source: number) =>
      (parseClientMessage(encode({ video: { format: v1.PixelFormat.JPEG, source, data: new Uint8Array([1]) } })) as Extract<ClientInput, { kind: "video" }>).source;
    expect(sourceOf(v1.VideoSource.SCREEN)).toBe("screen");
    expect(sourceOf(v1.VideoSource.CAMERA)).toBe("camera");
    expect(sourceOf(v1.VideoSource.VIDEO_SOURCE_UNSPECIFIED)).toBe("camera");
  });

  it("empty track ids default to camera (video) and microphone (audio)", () => {
    expect(parseClientMessage(encode({ video: { format: v1.PixelFormat.JPEG, data: new Uint8Array([1]) } }))).toMatchObject({ trackId: "camera" });
    expect(parseClientMessage(encode({ audio: { sampleRate: 16000, channels: 1, data: new Uint8Array([0, 0]) } }))).toMatchObject({
      kind: "audio",
      trackId: "microphone",
    });
  });

  it("timestamps up to MAX_SAFE_INTEGER come out as numbers", () => {
    const bytes = len(0x12, [0x20, 0x04, 0x30, ...varint(Number.MAX_SAFE_INTEGER), ...len(0x3a, [1])]);
    const parsed = parseClientMessage(buffer(bytes)) as Extract<ClientInput, { kind: "video" }>;
    expect(parsed.timestampMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(typeof parsed.timestampMs).toBe("number");
  });
});

describe("parseClientMessage rejections", () => {
  it("text -> text_not_supported", () => {
    expect(codeOf("hello")).toBe("text_not_supported");
    expect(codeOf('{"type":"hello"}')).toBe("text_not_supported");
    expect(codeOf("")).toBe("text_not_supported");
  });

  it("over the limit -> message_too_large, before decoding; at the limit it is parsed", () => {
    const message = encode({ speaking: { speaking: true } }); // 4 bytes
    expect(message.byteLength).toBe(4);
    expect(parseClientMessage(message, 4)).toEqual({ kind: "speaking", speaking: true });
    const err = rejection(message, 3);
    expect(err.code).toBe("message_too_large");
    expect(err.message).toContain("4");
    // The default limit: a valid-looking message one byte over 1 MiB.
    expect(codeOf(new ArrayBuffer(MAX_CLIENT_MESSAGE_BYTES + 1))).toBe("message_too_large");
  });

  it.each([
    ["all 0xff", [0xff, 0xff, 0xff]],
    ["truncated length", [0x12, 0x10, 0x0a]],
    ["invalid wire type", [0x0f]],
    ["truncated varint", [0x22, 0x01, 0x08]],
  ])("garbage (%s) -> decode_failed", (_name, bytes) => {
    expect(codeOf(buffer(bytes))).toBe("decode_failed");
  });

  it("a Check parses with its window (0 = the default); more than 60 s -> bad_check", () => {
    expect(parseClientMessage(encode({ check: { durationS: 10 } }))).toEqual({ kind: "check", durationS: 10 });
    expect(parseClientMessage(encode({ check: {} }))).toEqual({ kind: "check", durationS: 0 });
    expect(parseClientMessage(encode({ check: { durationS: 60 } }))).toEqual({ kind: "check", durationS: 60 });
    expect(codeOf(encode({ check: { durationS: 61 } }))).toBe("bad_check");
  });

  it("empty ClientMessage (or only unknown fields) -> empty_message", () => {
    expect(codeOf(new ArrayBuffer(0))).toBe("empty_message");
    expect(codeOf(buffer([0x48, 0x01]))).toBe("empty_message"); // field 9: not in the oneof
  });

  it("a video frame without data -> empty_message", () => {
    expect(codeOf(encode({ video: { format: v1.PixelFormat.RGB24, width: 1, height: 1 } }))).toBe("empty_message");
  });

  it.each([0, 5, 9, 1000, -1])("pixel format %i -> unsupported_format", (format) => {
    const err = rejection(encode({ video: { format, width: 1, height: 1, data: new Uint8Array([1, 2, 3]) } }));
    expect(err.code).toBe("unsupported_format");
    expect(err.message).toContain(String(format));
  });

  it("track ids with spaces, control or non-ASCII characters, or over 128 chars -> bad_track_id", () => {
    const ok = "a".repeat(MAX_TRACK_ID_CHARS);
    expect(parseClientMessage(encode({ audio: { trackId: ok, data: new Uint8Array([0, 0]) } }))).toMatchObject({ trackId: ok });
    expect(parseClientMessage(encode({ audio: { trackId: "!~:._-/", data: new Uint8Array([0, 0]) } }))).toMatchObject({ trackId: "!~:._-/" });
    for (const trackId of ["my camera", " cam", "cam\n", "cam\t1", "caméra", "\u0000", "a".repeat(MAX_TRACK_ID_CHARS + 1)]) {
      expect(codeOf(encode({ video: { trackId, format: v1.PixelFormat.JPEG, data: new Uint8Array([1]) } }))).toBe("bad_track_id");
      expect(codeOf(encode({ audio: { trackId, data: new Uint8Array([0, 0]) } }))).toBe("bad_track_id");
    }
  });
});

describe("parseClientMessage on arbitrary input", () => {
  const expectOnlyClientInputErrors = (message: ArrayBuffer | string) => {
    try {
      const parsed = parseClientMessage(message);
      expect(["hello", "video", "audio", "speaking", "check"]).toContain(parsed.kind);
    } catch (err) {
      expect(err).toBeInstanceOf(ClientInputError);
    }
  };

  it("random bytes never throw anything but ClientInputError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        expectOnlyClientInputErrors(buffer(bytes));
      }));
  });

  it("any text message is rejected with text_not_supported", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(codeOf(text)).toBe("text_not_supported");
      }),
    );
  });

  // Protobuf-shaped noise reaches deeper than random bytes: valid tags of every wire type,
  // nested inside the four payload fields, with arbitrary values.
  const field: fc.Arbitrary<number[]> = fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n })).map(([n, v]) => [(n << 3) | 0, ...varint(v)]),
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.uint8Array({ maxLength: 40 })).map(([n, b]) => len((n << 3) | 2, [...b])),
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.string({ unit: "binary", maxLength: 140 })).map(([n, s]) => len((n << 3) | 2, utf8(s))),
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([n, b]) => [(n << 3) | 5, ...b]),
  );
  const message = fc
    .array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.array(field, { maxLength: 8 })), { minLength: 1, maxLength: 3 })
    .map((payloads) => payloads.flatMap(([n, inner]) => len((n << 3) | 2, inner.flat())));

  it("protobuf-shaped messages never throw anything but ClientInputError", () => {
    fc.assert(fc.property(message, (bytes) => {
        expectOnlyClientInputErrors(buffer(bytes));
      }), { numRuns: 2000 });
  });

  it("well-formed video frames parse or fail with a ClientInputError naming the problem", () => {
    fc.assert(
      fc.property(
        fc.record({
          trackId: fc.string({ unit: "binary", maxLength: 140 }),
          width: fc.nat(),
          height: fc.nat(),
          format: fc.integer({ min: -2, max: 8 }),
          source: fc.integer({ min: -1, max: 4 }),
          timestampMs: fc.maxSafeInteger(),
          data: fc.uint8Array({ maxLength: 32 }),
        }),
        (video) => {
          try {
            const parsed = parseClientMessage(encode({ video }));
            expect(parsed).toMatchObject({ kind: "video", width: video.width, height: video.height, timestampMs: video.timestampMs });
            expect(video.format >= 1 && video.format <= 4).toBe(true);
          } catch (err) {
            expect(err).toBeInstanceOf(ClientInputError);
            expect(["unsupported_format", "empty_message", "bad_track_id"]).toContain((err as ClientInputError).code);
          }
        },
      ),
    );
  });
});
