/**
 * Self-test of the fake Dataspike API, so a failing video e2e test points at the service and not
 * at the harness. Fast: no wrangler involved.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import encodeJpeg, { init as initJpegEncoder } from "@jsquash/jpeg/encode.js";
import { deepfake_streaming } from "../../../src/gen/dataspike.js";
import { FakeUpstream, FrameFormat, ResultType } from "./fake-upstream.js";
import { REPO_ROOT } from "./wrangler-dev.js";

const Schema = deepfake_streaming.DeepfakeStreamingSchema;

async function makeJpeg(width: number, height: number): Promise<Uint8Array> {
  const wasm = await WebAssembly.compile(readFileSync(join(REPO_ROOT, "node_modules/@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm")));
  await (initJpegEncoder as unknown as (module: WebAssembly.Module) => Promise<void>)(wasm);
  const rgba = new Uint8ClampedArray(width * height * 4).fill(128);
  const image = { data: rgba, width, height, colorSpace: "srgb" } as ImageData;
  return new Uint8Array(await encodeJpeg(image, { quality: 75 }));
}

function open(url: string, key?: string): Promise<{ ws: WebSocket } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws"), { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

describe("fake upstream (harness self-test)", () => {
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = await FakeUpstream.start({ expectedKey: "k1" });
  });
  afterAll(async () => {
    await fake.close();
  });

  it("refuses a missing or wrong key with 401 and a paused server with 503, recording each attempt", async () => {
    expect(await open(fake.url)).toEqual({ status: 401 });
    expect(await open(fake.url, "wrong")).toEqual({ status: 401 });
    fake.setAccepting(false);
    expect(await open(fake.url, "k1")).toEqual({ status: 503 });
    fake.setAccepting(true);
    expect(fake.upgrades.map((u) => u.outcome)).toEqual(["unauthorized", "unauthorized", "unavailable"]);
    expect(fake.upgrades[2]?.authorization).toBe("Bearer k1");
  });

  it("decodes FrameRequests and their JPEGs, pushes results, auto-responds and drops sockets", async () => {
    const opened = await open(fake.url, "k1");
    if (!("ws" in opened)) throw new Error(`upgrade refused: ${opened.status}`);
    const ws = opened.ws;
    const results: deepfake_streaming.DeepfakeStreamingSchema.ResultEvent[] = [];
    ws.on("message", (data) => results.push(Schema.ResultEvent.decode(new Uint8Array(data as Buffer))));

    const jpeg = await makeJpeg(64, 48);
    ws.send(Schema.FrameRequest.encode({ participantId: "p1", trackId: "cam", timestampMs: 1234, format: FrameFormat.JPEG, data: jpeg }).finish());
    ws.send(Schema.FrameRequest.encode({ participantId: "p1", trackId: "cam", timestampMs: 1300, format: FrameFormat.JPEG, data: new Uint8Array([1, 2, 3]) }).finish());
    await fake.waitFor(() => fake.frames.length === 2, 2_000, "two frames");
    await fake.settle();
    expect(fake.frames[0]).toMatchObject({ participantId: "p1", trackId: "cam", timestampMs: 1234, format: 0, bytes: jpeg.length, width: 64, height: 48 });
    expect(fake.frames[1]?.decodeError).toMatch(/Not a JPEG/);

    expect(fake.sendResult("SUSPICIOUS", "p1", "cam", "hmm")).toBe(1);
    fake.setAutoRespond("CLEAR", "fine");
    ws.send(Schema.FrameRequest.encode({ participantId: "p1", trackId: "mic", timestampMs: 1400, format: FrameFormat.PCM, data: new Uint8Array(96_000) }).finish());
    await fake.waitFor(() => results.length === 2, 2_000, "two results");
    expect(results[0]).toMatchObject({ type: ResultType.SUSPICIOUS, participantId: "p1", trackId: "cam", message: "hmm" });
    expect(results[1]).toMatchObject({ type: ResultType.CLEAR, participantId: "p1", trackId: "mic", message: "fine" });
    fake.setAutoRespond(null);

    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    expect(fake.dropAll()).toBe(1);
    expect(await closed).toBe(1006);
  });
});
