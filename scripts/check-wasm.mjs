#!/usr/bin/env node
// `npm run wasm:check`: the committed WASM codecs match their recorded SHA-256 (each `X.wasm.sha256`
// beside its `X.wasm`, in `sha256sum` format): the production encoder in src/media/codec and its test
// build (with the jt_selftest_abort hook) in test/support. CI runs this instead of rebuilding: the build
// (codec/jpeg-turbo/build.sh) needs emscripten, CI does not.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dirs = [join(root, "src", "media", "codec"), join(root, "test", "support")];
let failed = 0;
for (const dir of dirs) {
  const sums = readdirSync(dir).filter((f) => f.endsWith(".wasm.sha256"));
  if (sums.length === 0) {
    console.error(`wasm:check: no .wasm.sha256 files in ${dir}`);
    process.exit(1);
  }
  for (const sumFile of sums) {
    const [expected, name] = readFileSync(join(dir, sumFile), "utf8").trim().split(/\s+/);
    const wasmName = sumFile.replace(/\.sha256$/, "");
    if (name !== wasmName || !/^[0-9a-f]{64}$/.test(expected ?? "")) {
      console.error(`wasm:check: ${sumFile} is not "<sha256>  ${wasmName}"`);
      failed++;
      continue;
    }
    const bytes = readFileSync(join(dir, wasmName));
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== expected) {
      console.error(
        `wasm:check: ${wasmName} has SHA-256 ${actual}, ${sumFile} says ${expected}: rebuild with ` +
          `codec/jpeg-turbo/build.sh or restore the file`,
      );
      failed++;
      continue;
    }
    if (!WebAssembly.validate(bytes)) {
      console.error(`wasm:check: ${wasmName} is not a valid WASM module`);
      failed++;
      continue;
    }
    console.log(`wasm:check: ${wasmName} ok (${bytes.length} bytes, sha256 ${actual})`);
  }
}
process.exit(failed ? 1 : 0);
