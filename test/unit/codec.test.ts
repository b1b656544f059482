/**
 * The Dataspike wire format (docs/DESIGN.md §3), checked byte by byte against hand-assembled protobuf:
 * field numbers, wire types, proto3 defaults, int64 timestamps and enum values.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  decodeFrameRequest,
  decodeResultEvent,
  encodeFrameRequest,
  encodeResultEvent,
  FrameFormat,
  type FrameRequestFields,
} from "../../src/protocol/dataspike";
import { deepfake_streaming } from "../../src/gen/dataspike.js";
import type { ResultKind } from "../../src/protocol/levels";

const Schema = deepfake_streaming.DeepfakeStreamingSchema;
const utf8 = (text: string): number[] => [...new TextEncoder().encode(text)];
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** A length-delimited field (wire type 2) with a one-byte tag and a one-byte length. */
function lengthDelimited(tag: number, payload: number[]): number[] {
  expect(payload.length).toBeLessThan(128);
  return [tag, payload.length, ...payload];
}

// 1730123456789 = 0x192_D35B_0915 (> 2^32) as a base-128 varint, least significant group first.
const TIMESTAMP_MS = 1730123456789;
const TIMESTAMP_VARINT = [0x95, 0xc2, 0x93, 0x9b, 0xad, 0x32];

describe("FrameRequest encoding (docs/DESIGN.md §3)", () => {
  it("the enum values match the API's FrameRequestFormat", () => {
    expect([FrameFormat.JPEG, FrameFormat.WEBP, FrameFormat.PCM]).toEqual([0, 1, 2]);
  });

  it("PCM frame: fields 1..5 with tags 0x0a 0x12 0x18 0x20 0x2a, int64 timestamp above 2^32", () => {
    expect(TIMESTAMP_MS).toBeGreaterThan(2 ** 32);
    const bytes = encodeFrameRequest({
      participantId: "p-1",
      trackId: "microphone",
      timestampMs: TIMESTAMP_MS,
      format: FrameFormat.PCM,
      data: new Uint8Array([0x01, 0x00, 0xff, 0x7f]),
    });
    const expected = [
      ...lengthDelimited(0x0a, utf8("p-1")), // participant_id = 1, LEN
      ...lengthDelimited(0x12, utf8("microphone")), // track_id = 2, LEN
      0x18, ...TIMESTAMP_VARINT, // timestamp_ms = 3, VARINT
      0x20, 0x02, // format = 4, VARINT, PCM
      ...lengthDelimited(0x2a, [0x01, 0x00, 0xff, 0x7f]), // data = 5, LEN
    ];
    expect(hex(bytes)).toBe(hex(new Uint8Array(expected)));
  });

  it("JPEG (= 0, the proto3 default) leaves the format field off the wire", () => {
    const bytes = encodeFrameRequest({
      participantId: "p",
      trackId: "camera",
      timestampMs: TIMESTAMP_MS,
      format: FrameFormat.JPEG,
      data: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
    });
    const expected = [
      ...lengthDelimited(0x0a, utf8("p")),
      ...lengthDelimited(0x12, utf8("camera")),
      0x18, ...TIMESTAMP_VARINT,
      ...lengthDelimited(0x2a, [0xff, 0xd8, 0xff, 0xd9]),
    ];
    expect(hex(bytes)).toBe(hex(new Uint8Array(expected)));
    expect([...bytes]).not.toContain(0x20);
  });

  it("WEBP is format 1", () => {
    const bytes = encodeFrameRequest({ participantId: "", trackId: "", timestampMs: 0, format: FrameFormat.WEBP, data: new Uint8Array() });
    expect(hex(bytes)).toBe("2001");
  });

  it("a 96 000-byte PCM chunk gets a multi-byte length varint and UTF-8 ids", () => {
    const data = new Uint8Array(96_000).map((_, i) => i & 0xff);
    const bytes = encodeFrameRequest({ participantId: "é", trackId: "t", timestampMs: 1, format: FrameFormat.PCM, data });
    // 96000 = 0x17700 -> varint 80 ee 05
    const head = [0x0a, 0x02, 0xc3, 0xa9, 0x12, 0x01, 0x74, 0x18, 0x01, 0x20, 0x02, 0x2a, 0x80, 0xee, 0x05];
    expect(hex(bytes.subarray(0, head.length))).toBe(hex(new Uint8Array(head)));
    expect(bytes.byteLength).toBe(head.length + 96_000);
    expect(hex(bytes.subarray(head.length))).toBe(hex(data));
  });

  it("decodes hand-assembled bytes, timestamp as a plain number", () => {
    const bytes = new Uint8Array([
      ...lengthDelimited(0x0a, utf8("alice")),
      ...lengthDelimited(0x12, utf8("camera")),
      0x18, ...TIMESTAMP_VARINT,
      0x20, 0x02,
      ...lengthDelimited(0x2a, [9, 8, 7]),
    ]);
    const decoded = decodeFrameRequest(bytes);
    expect(decoded).toMatchObject({ participantId: "alice", trackId: "camera", timestampMs: TIMESTAMP_MS, format: FrameFormat.PCM });
    expect(typeof decoded.timestampMs).toBe("number");
    expect([...decoded.data]).toEqual([9, 8, 7]);
  });

  it("round-trips any fields, int64 timestamps up to MAX_SAFE_INTEGER staying numbers", () => {
    fc.assert(
      fc.property(
        fc.record({
          participantId: fc.string({ unit: "binary", maxLength: 64 }),
          trackId: fc.string({ unit: "binary", maxLength: 64 }),
          timestampMs: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 2 ** 32, 2 ** 53 - 1), fc.maxSafeInteger()),
          format: fc.constantFrom(FrameFormat.JPEG, FrameFormat.WEBP, FrameFormat.PCM),
          data: fc.uint8Array({ maxLength: 512 }),
        }),
        (fields: FrameRequestFields) => {
          const decoded = decodeFrameRequest(encodeFrameRequest(fields));
          expect(typeof decoded.timestampMs).toBe("number");
          expect(decoded.timestampMs).toBe(fields.timestampMs);
          expect(decoded.participantId).toBe(fields.participantId);
          expect(decoded.trackId).toBe(fields.trackId);
          expect(decoded.format).toBe(fields.format);
          expect(hex(decoded.data)).toBe(hex(fields.data));
        },
      ),
    );
  });
});

describe("ResultEvent decoding (docs/DESIGN.md §3)", () => {
  const tail = [
    ...lengthDelimited(0x12, utf8("alice")), // participant_id = 2
    ...lengthDelimited(0x1a, utf8("camera")), // track_id = 3
    ...lengthDelimited(0x22, utf8("score 0.93")), // message = 4
  ];

  it.each([
    [1, "suspicious"],
    [2, "clear"],
    [3, "error"],
    [4, "alert"],
  ] as const)("type %i (field 1, tag 0x08) decodes as %s", (type, kind) => {
    expect(decodeResultEvent(new Uint8Array([0x08, type, ...tail]))).toEqual({
      kind,
      participantId: "alice",
      trackId: "camera",
      message: "score 0.93",
    });
  });

  it("UNKNOWN = 0 decodes as unknown, whether explicit on the wire or omitted", () => {
    expect(decodeResultEvent(new Uint8Array([0x08, 0x00, ...tail])).kind).toBe("unknown");
    expect(decodeResultEvent(new Uint8Array(tail))).toEqual({ kind: "unknown", participantId: "alice", trackId: "camera", message: "score 0.93" });
    expect(decodeResultEvent(new Uint8Array(0))).toEqual({ kind: "unknown", participantId: "", trackId: "", message: "" });
  });

  it("a future enum value (9, 127, 300, -1) decodes as unknown, keeping the other fields", () => {
    for (const varint of [[0x09], [0x7f], [0xac, 0x02], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]) {
      expect(decodeResultEvent(new Uint8Array([0x08, ...varint, ...tail]))).toEqual({
        kind: "unknown",
        participantId: "alice",
        trackId: "camera",
        message: "score 0.93",
      });
    }
  });

  it("fields in any order and unknown extra fields are accepted", () => {
    const bytes = new Uint8Array([...lengthDelimited(0x22, utf8("m")), 0x28, 0x05, ...lengthDelimited(0x3a, [1, 2]), 0x08, 0x04]);
    expect(decodeResultEvent(bytes)).toEqual({ kind: "alert", participantId: "", trackId: "", message: "m" });
  });

  it.each([
    ["truncated varint", [0x08]],
    ["truncated varint after a valid field", [0x08, 0x04, 0x08, 0x80]],
    ["length beyond the end", [0x12, 0x05, 0x61]],
    ["invalid wire type 7", [0x0f]],
    ["deprecated group start without end", [0x0b]],
    ["all 0xff", [0xff, 0xff, 0xff]],
  ])("garbage throws: %s", (_name, bytes) => {
    expect(() => decodeResultEvent(new Uint8Array(bytes))).toThrow();
  });

  it("arbitrary bytes either throw an Error or yield one of the five kinds with string fields", () => {
    const kinds = new Set(["unknown", "suspicious", "clear", "error", "alert"]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let decoded;
        try {
          decoded = decodeResultEvent(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          return;
        }
        expect(kinds.has(decoded.kind)).toBe(true);
        expect(typeof decoded.participantId).toBe("string");
        expect(typeof decoded.trackId).toBe("string");
        expect(typeof decoded.message).toBe("string");
      }),
    );
  });
});

describe("ResultEvent encoding", () => {
  it("writes the same bytes as the hand-assembled message", () => {
    const bytes = encodeResultEvent({ kind: "alert", participantId: "p", trackId: "t", message: "m" });
    expect(hex(bytes)).toBe("0804" + "120170" + "1a0174" + "22016d");
  });

  it("unknown (0) and empty strings are proto3 defaults: nothing on the wire", () => {
    expect(encodeResultEvent({ kind: "unknown", participantId: "", trackId: "", message: "" }).byteLength).toBe(0);
  });

  it("kinds map to the API's ResultEventType numbers", () => {
    const typeOf = (kind: ResultKind) =>
      Schema.ResultEvent.decode(encodeResultEvent({ kind, participantId: "", trackId: "", message: "" })).type;
    expect(typeOf("unknown")).toBe(Schema.ResultEventType.UNKNOWN);
    expect([typeOf("suspicious"), typeOf("clear"), typeOf("error"), typeOf("alert")]).toEqual([1, 2, 3, 4]);
  });

  it("encode/decode round-trips every kind and any strings", () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom<ResultKind>("unknown", "suspicious", "clear", "error", "alert"),
          participantId: fc.string({ unit: "binary", maxLength: 64 }),
          trackId: fc.string({ unit: "binary", maxLength: 64 }),
          message: fc.string({ unit: "binary", maxLength: 256 }),
        }),
        (fields) => {
          expect(decodeResultEvent(encodeResultEvent(fields))).toEqual(fields);
        },
      ),
    );
  });
});
