/**
 * Test access to the libjpeg-turbo encoder's WASM instance, kept out of src/: the test build of the
 * module (`JT_SELFTEST=1 codec/jpeg-turbo/build.sh` -> ./jpeg-turbo-selftest.wasm, the production
 * code plus the jt_selftest_abort hook) and `testing`, which reads the instance the encoder made from
 * it. The encoder keeps its instance private, so the instances of this module are recorded as
 * `new WebAssembly.Instance` creates them.
 */
import { readFileSync } from "node:fs";
import { JpegEncodeError } from "../../src/media/codec/turbo-encoder";

interface SelftestExports {
  memory: WebAssembly.Memory;
  jt_stack_save(): number;
  jt_stack_restore(sp: number): void;
  jt_selftest_abort(): void;
}

/** The encoder built with the selftest hook: pass it to the encoder's init() in tests. */
export const selftestModule = new WebAssembly.Module(
  readFileSync(new URL("./jpeg-turbo-selftest.wasm", import.meta.url)),
);

let latest: SelftestExports | undefined;
const NativeInstance = WebAssembly.Instance;
WebAssembly.Instance = new Proxy(NativeInstance, {
  construct(target, args: [WebAssembly.Module, WebAssembly.Imports?], newTarget) {
    const instance = Reflect.construct(target, args, newTarget) as WebAssembly.Instance;
    if (args[0] === selftestModule) latest = instance.exports as unknown as SelftestExports;
    return instance;
  },
});

/** The WASM memory size, the stack pointer, and a failure forced inside libjpeg-turbo (as out of memory). */
export const testing = {
  memoryBytes(): number {
    return latest?.memory.buffer.byteLength ?? 0;
  },
  forceAbort(): void {
    if (!latest) throw new Error("turbo-testing: the encoder has not instantiated the selftest module");
    const wasm = latest;
    const sp = wasm.jt_stack_save();
    try {
      wasm.jt_selftest_abort();
    } catch (error) {
      // env.jt_abort throws out of the WASM (libjpeg-turbo's error_exit): unwind as the encoder does.
      if (!(error instanceof Error) || !error.message.startsWith("libjpeg-turbo error")) throw error;
      wasm.jt_stack_restore(sp);
      throw new JpegEncodeError("encoder_failed", `JPEG encoder failed (${error.message})`);
    }
  },
  stackPointer(): number {
    return latest?.jt_stack_save() ?? 0;
  },
};
