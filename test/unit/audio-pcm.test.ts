/** AudioFrame validation and s16le decoding (docs/DESIGN.md §5 AudioFrame), byte by byte. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeS16leMono, encodeS16le, pcmFrameToMono } from "../../src/media/audio/pcm";
import { AudioError, validatePcmFrame, type PcmFrame } from "../../src/protocol/audio-frames";

function audioErrorOf(fn: () => unknown): AudioError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AudioError);
    return err as AudioError;
  }
  throw new Error("expected an AudioError");
}

const frame = (sampleRate: number, channels: number, bytes: number): PcmFrame => ({ sampleRate, channels, data: new Uint8Array(bytes) });

describe("validatePcmFrame", () => {
  it("accepts common rates, mono and stereo, and returns samples per channel", () => {
    expect(validatePcmFrame(frame(48_000, 2, 3_840))).toBe(960);
    expect(validatePcmFrame(frame(44_100, 1, 1_764))).toBe(882);
    expect(validatePcmFrame(frame(8_000, 1, 2))).toBe(1);
    expect(validatePcmFrame(frame(48_000, 2, 192_000))).toBe(48_000); // exactly 1 s
  });

  it.each([
    ["rate 0", frame(0, 1, 320), /sample_rate/],
    ["rate below 8000", frame(7_999, 1, 320), /sample_rate.*7999/],
    ["rate above 48000", frame(96_000, 1, 320), /sample_rate/],
    ["fractional rate", frame(44_100.5, 1, 320), /sample_rate/],
    ["0 channels", frame(16_000, 0, 320), /channels/],
    ["3 channels", frame(16_000, 3, 360), /channels.*3/],
    ["empty data", frame(16_000, 1, 0), /no data/],
    ["odd byte length", frame(16_000, 1, 321), /whole number/],
    ["half a stereo frame", frame(48_000, 2, 3_842), /whole number.*4 bytes/],
    ["longer than 1 s", frame(16_000, 1, 32_002), /longer than the 1000 ms/],
  ])("rejects %s with bad_audio", (_name, input, message) => {
    const err = audioErrorOf(() => validatePcmFrame(input));
    expect(err.code).toBe("bad_audio");
    expect(err.message).toMatch(message);
  });

  it("honours a custom maximum duration", () => {
    expect(audioErrorOf(() => validatePcmFrame(frame(16_000, 1, 642), 20)).code).toBe("bad_audio");
    expect(validatePcmFrame(frame(16_000, 1, 640), 20)).toBe(320);
  });
});

describe("decodeS16leMono", () => {
  it("reads little-endian bytes regardless of the host", () => {
    // 0x0100 = 256, 0xff7f = 32767, 0x0080 = -32768, 0xffff = -1
    const mono = decodeS16leMono(new Uint8Array([0x00, 0x01, 0xff, 0x7f, 0x00, 0x80, 0xff, 0xff]), 1);
    expect(Array.from(mono)).toEqual([256 / 32_768, 32_767 / 32_768, -1, -1 / 32_768]);
  });

  it("averages interleaved stereo", () => {
    // L = 1000, R = 3000 -> 2000; L = -32768, R = 32767 -> -0.5
    const stereo = new Uint8Array([0xe8, 0x03, 0xb8, 0x0b, 0x00, 0x80, 0xff, 0x7f]);
    expect(Array.from(decodeS16leMono(stereo, 2))).toEqual([2_000 / 32_768, -0.5 / 32_768]);
  });

  it("round-trips every s16 value through encodeS16le (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -32_768, max: 32_767 }), { minLength: 1, maxLength: 500 }), (values) => {
        const bytes = new Uint8Array(values.length * 2);
        const view = new DataView(bytes.buffer);
        values.forEach((v, i) => view.setInt16(i * 2, v, true));
        const mono = decodeS16leMono(bytes, 1);
        expect(encodeS16le(mono)).toEqual(bytes);
      }),
    );
  });

  it("decodes the same at an even and at an odd byte offset in the message (view and byte paths), mono and stereo", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -32_768, max: 32_767 }), { minLength: 2, maxLength: 400 }), fc.constantFrom(1, 2), (values, channels) => {
        const n = values.length - (values.length % channels);
        const message = new Uint8Array(n * 2 + 3);
        const even = message.subarray(2, 2 + n * 2);
        const odd = message.subarray(1, 1 + n * 2);
        const view = new DataView(even.buffer, even.byteOffset);
        for (let i = 0; i < n; i++) view.setInt16(i * 2, values[i]!, true);
        const fromEven = Array.from(decodeS16leMono(even, channels));
        odd.set(even.slice());
        expect(Array.from(decodeS16leMono(odd, channels))).toEqual(fromEven);
        expect(fromEven[0]).toBe(channels === 1 ? values[0]! / 32_768 : (values[0]! + values[1]!) / 65_536);
      }),
    );
  });

  it("pcmFrameToMono validates first", () => {
    expect(audioErrorOf(() => pcmFrameToMono(frame(16_000, 1, 3))).code).toBe("bad_audio");
    expect(pcmFrameToMono(frame(48_000, 2, 8)).length).toBe(2);
  });
});

describe("encodeS16le", () => {
  it("scales by 32768, rounds, clamps and writes little-endian", () => {
    const bytes = encodeS16le(Float32Array.from([0, 0.5, -0.5, 1, -1, 2, -2, 1 / 65_536 + 1e-9, Number.NaN]));
    const view = new DataView(bytes.buffer);
    const values = Array.from({ length: 9 }, (_, i) => view.getInt16(i * 2, true));
    expect(values).toEqual([0, 16_384, -16_384, 32_767, -32_768, 32_767, -32_768, 1, 0]);
    expect(Array.from(bytes.subarray(2, 4))).toEqual([0x00, 0x40]);
  });

  it("never throws and always writes 2 bytes per sample (property)", () => {
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 200 }), (samples) => {
        expect(encodeS16le(samples).byteLength).toBe(samples.length * 2);
      }),
    );
  });
});
