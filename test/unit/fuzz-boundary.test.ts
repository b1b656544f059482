/**
 * The untrusted-input boundary under fast-check (docs/DESIGN.md §5 "Bad input"): arbitrary and mutated
 * ClientMessage and Packet bytes go through the parsers and on into the media intake, exactly as
 * socket messages do. Nothing but ClientInputError ever escapes, and nothing invalid is accepted:
 * the JPEG encoder only ever sees w x h x 4 RGBA within the limits, and every PCM frame that
 * reaches the audio path has an accepted rate, 1-2 channels, whole samples and at most 1 s.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { cloudflare } from "../../src/gen/packet.js";
import { AUDIO_INPUT_RATES_HZ, AUDIO_MAX_FRAME_MS } from "../../src/config/limits";
import { ClientInputError, parseClientMessage } from "../../src/protocol/client-messages";
import { parseSfuPacket } from "../../src/protocol/sfu-packets";
import { expectedByteLength } from "../../src/protocol/frames";
import { MediaIntake } from "../../src/session/media-intake";

const v1 = deepfake_edge.v1;
const Packet = cloudflare.realtime.v1.Packet;
const LIMITS = { maxWidth: 320, maxHeight: 240, maxPixels: 320 * 240 };
const MAX_BYTES = 320 * 240 * 4 + 64 * 1024;

interface Seen {
  encodes: Array<{ bytes: number; width: number; height: number; expected: number }>;
  accepted: number;
}

function makeIntake(seen: Seen): MediaIntake {
  return new MediaIntake({
    participantId: "fuzz",
    audioIntervalMs: 0,
    video: {
      fps: 1_000, // sample (almost) everything, so the pixel path is exercised
      jpegQuality: 75,
      limits: LIMITS,
      toleranceRatio: 0.25,
      maxTracks: 8,
      encode: async (pixels, width, height, format) => {
        seen.encodes.push({ bytes: pixels.byteLength, width, height, expected: expectedByteLength(format, width, height) });
        return new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
      },
    },
    outputs: { send: () => undefined, count: () => undefined },
  });
}

const feed = { connectionId: "c1", clientVad: false, videoFps: 1_000 };

/** Runs one message through parser and intake; returns what escaped (null: handled or refused cleanly). */
async function through(intake: MediaIntake, bytes: Uint8Array, nowMs: number): Promise<unknown> {
  try {
    const input = parseClientMessage(bytes.slice().buffer, MAX_BYTES);
    await intake.ingestClientMessage(feed, input, nowMs);
    // Accepted: an audio frame must then be valid PCM.
    if (input.kind === "audio") expect(isValidPcm(input), `accepted invalid PCM ${JSON.stringify({ ...input, data: input.data.byteLength })}`).toBe(true);
    return null;
  } catch (err) {
    return err instanceof ClientInputError ? null : err;
  }
}

function isValidPcm(input: { sampleRate: number; channels: number; data: Uint8Array }): boolean {
  return (
    AUDIO_INPUT_RATES_HZ.includes(input.sampleRate) &&
    (input.channels === 1 || input.channels === 2) &&
    input.data.byteLength > 0 &&
    input.data.byteLength % (2 * input.channels) === 0 &&
    input.data.byteLength / (2 * input.channels) <= (input.sampleRate * AUDIO_MAX_FRAME_MS) / 1000
  );
}

function encode(message: deepfake_edge.v1.ClientMessage.$Properties): Uint8Array {
  return v1.ClientMessage.encode(message).finish();
}

const validMessages: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({ w: fc.integer({ min: 1, max: 64 }), h: fc.integer({ min: 1, max: 48 }), f: fc.constantFrom(1, 2, 3) }).map(({ w, h, f }) =>
    encode({ video: { trackId: "cam", width: w, height: h, format: f, source: 1, timestampMs: 1, data: new Uint8Array(expectedByteLength((["", "RGB24", "RGBA", "I420"] as const)[f] as "RGB24", w, h)) } }),
  ),
  fc.record({ rate: fc.constantFrom(...AUDIO_INPUT_RATES_HZ), ch: fc.constantFrom(1, 2), ms: fc.integer({ min: 1, max: 40 }) }).map(({ rate, ch, ms }) =>
    encode({ audio: { trackId: "mic", sampleRate: rate, channels: ch, timestampMs: 1, data: new Uint8Array(Math.floor((rate * ms) / 1000) * 2 * ch) } }),
  ),
  fc.constant(encode({ hello: { client: "fuzz", vad: false, honorsRate: true } })),
  fc.boolean().map((speaking) => encode({ speaking: { speaking } })),
);

/** Bit flips, truncations, byte insertions and splices of a valid message. */
const mutated: fc.Arbitrary<Uint8Array> = fc
  .tuple(validMessages, fc.array(fc.tuple(fc.constantFrom("flip", "truncate", "insert", "set"), fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }))
  .map(([bytes, edits]) => {
    let out = Uint8Array.from(bytes);
    for (const [kind, at, value] of edits) {
      const i = out.length === 0 ? 0 : at % out.length;
      if (kind === "flip" && out.length > 0) out[i] = (out[i] as number) ^ (1 << (value % 8));
      else if (kind === "truncate") out = out.slice(0, i);
      else if (kind === "insert") out = Uint8Array.from([...out.slice(0, i), value, ...out.slice(i)]);
      else if (out.length > 0) out[i] = value;
    }
    return out;
  });

/** Structurally valid messages with absurd field values. */
const absurd: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({ w: fc.nat(), h: fc.nat(), f: fc.integer({ min: -5, max: 10 }), n: fc.nat({ max: 4096 }) }).map(({ w, h, f, n }) =>
    encode({ video: { trackId: "cam", width: w >>> 0, height: h >>> 0, format: f, source: 0, timestampMs: -1, data: new Uint8Array(n) } }),
  ),
  fc.record({ rate: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 7_999, 44_101, 96_000, 4_294_967_295)), ch: fc.nat({ max: 300 }), n: fc.nat({ max: 200_000 }) }).map(({ rate, ch, n }) =>
    encode({ audio: { trackId: "mic", sampleRate: rate >>> 0, channels: ch, timestampMs: 0, data: new Uint8Array(n) } }),
  ),
  fc.string({ unit: "binary", minLength: 129, maxLength: 2_000 }).map((trackId) => encode({ video: { trackId, width: 2, height: 2, format: 2, data: new Uint8Array(16) } })),
);

describe("ClientMessage bytes through parser and intake", () => {
  for (const [name, arbitrary, runs] of [
    ["arbitrary bytes", fc.uint8Array({ maxLength: 512 }), 400],
    ["mutated valid messages (bit flips, truncations, insertions)", mutated, 800],
    ["absurd dimensions, audio parameters and huge track ids", absurd, 400],
  ] as const) {
    it(`${name}: only ClientInputError escapes; the encoder sees only valid pixels`, async () => {
      const seen: Seen = { encodes: [], accepted: 0 };
      const intake = makeIntake(seen);
      let t = 0;
      await fc.assert(
        fc.asyncProperty(arbitrary, async (bytes) => {
          t += 1_000;
          expect(await through(intake, bytes, t)).toBeNull();
        }),
        { numRuns: runs },
      );
      await new Promise((r) => setTimeout(r, 0));
      for (const e of seen.encodes) {
        expect(e.bytes).toBe(e.expected);
        expect(e.width >= 1 && e.width <= LIMITS.maxWidth && e.height >= 1 && e.height <= LIMITS.maxHeight).toBe(true);
      }
    });
  }

  it("valid messages stay accepted (the properties above are not vacuous)", async () => {
    const seen: Seen = { encodes: [], accepted: 0 };
    const intake = makeIntake(seen);
    let t = 0;
    await fc.assert(
      fc.asyncProperty(validMessages, async (bytes) => {
        t += 1_000;
        const input = parseClientMessage(bytes.slice().buffer, MAX_BYTES);
        await intake.ingestClientMessage(feed, input, t);
      }),
      { numRuns: 200 },
    );
    expect(seen.encodes.length).toBeGreaterThan(20);
  });
});

describe("Packet bytes (Realtime SFU adapter feeds)", () => {
  const packets = fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.tuple(fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 4_000 }), fc.nat(), fc.nat({ max: 255 })).map(([seq, ts, payload, at, bit]) => {
      const bytes = Uint8Array.from(Packet.encode({ sequenceNumber: seq >>> 0, timestamp: ts >>> 0, payload }).finish());
      if (bytes.length > 0) bytes[at % bytes.length] = (bytes[at % bytes.length] as number) ^ (1 << (bit % 8));
      return bytes.slice(0, bytes.length - (bit % 3));
    }),
  );

  it("never throw anything but ClientInputError; PCM reaching the audio path is whole 48 kHz stereo frames; JPEG feeds refuse non-JPEG", async () => {
    const seen: Seen = { encodes: [], accepted: 0 };
    const intake = makeIntake(seen);
    let t = 0;
    await fc.assert(
      fc.asyncProperty(packets, fc.constantFrom<"audio" | "video">("audio", "video"), async (bytes, kind) => {
        t += 1_000;
        try {
          const packet = parseSfuPacket(bytes.slice().buffer, MAX_BYTES);
          expect(packet.payload.byteLength).toBeGreaterThan(0);
          await intake.ingestSfuPacket(feed, kind, packet, t);
          if (kind === "audio") {
            expect(packet.payload.byteLength % 4).toBe(0);
            expect(packet.payload.byteLength / 4).toBeLessThanOrEqual(48_000);
          } else {
            expect(packet.payload[0]).toBe(0xff);
            expect(packet.payload[1]).toBe(0xd8);
          }
        } catch (err) {
          if (!(err instanceof ClientInputError)) throw err;
        }
      }),
      { numRuns: 600 },
    );
    expect(seen.encodes).toEqual([]); // JPEG feeds pass through, never re-encoded
  });
});
