/**
 * The production encoder module (src/media/codec/jpeg-turbo.wasm) carries no test hook, and encodes
 * exactly as the test build the other encoder tests use (test/support/jpeg-turbo-selftest.wasm,
 * the same code plus jt_selftest_abort): the same bytes for every input format.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encode, init, type TurboPixelFormat } from "../../src/media/codec/turbo-encoder";
import { cameraFrame } from "../../bench/camera-frame";

const load = (path: string): WebAssembly.Module => new WebAssembly.Module(readFileSync(new URL(path, import.meta.url)));
const production = load("../../src/media/codec/jpeg-turbo.wasm");
const selftest = load("../support/jpeg-turbo-selftest.wasm");
const exportsOf = (module: WebAssembly.Module): string[] => WebAssembly.Module.exports(module).map((e) => e.name);

describe("the production JPEG encoder module", () => {
  it("exports no test hook; the test build adds only jt_selftest_abort", () => {
    expect(exportsOf(production)).not.toContain("jt_selftest_abort");
    const added = exportsOf(selftest).filter((name) => !exportsOf(production).includes(name));
    expect(added).toEqual(["jt_selftest_abort"]);
  });

  it("encodes every format byte for byte as the test build", () => {
    const frame = cameraFrame(160, 120, 3);
    const inputs: Array<[TurboPixelFormat, Uint8Array]> = [
      ["RGBA", frame.rgba],
      ["RGB24", frame.rgb],
      ["I420", frame.i420],
    ];
    const run = (module: WebAssembly.Module): Uint8Array[] => {
      init(module);
      return inputs.map(([format, pixels]) => encode(pixels, 160, 120, format, 75));
    };
    expect(run(production)).toEqual(run(selftest));
  });
});
