/**
 * The built-in simulator speaks the Dataspike protocol (docs/DESIGN.md §3, §9) and checks what it receives:
 * the Authorization header, decodable JPEG, exactly 96 000 bytes of PCM. Anything else gets ERROR.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SIMULATOR_API_KEY } from "../../src/config/config.js";
import { FrameFormat, decodeResultEvent, encodeFrameRequest, type ResultEventFields } from "../../src/protocol/dataspike.js";

async function openSimulator(name: string, key = SIMULATOR_API_KEY) {
  const stub = env.UPSTREAM_SIMULATOR.get(env.UPSTREAM_SIMULATOR.idFromName(name));
  return stub.fetch("https://simulator.internal/stream", { headers: { Upgrade: "websocket", Authorization: `Bearer ${key}` } });
}

/** Sends one FrameRequest and resolves with the ResultEvent it answers. */
async function exchange(ws: WebSocket, format: number, data: Uint8Array): Promise<ResultEventFields> {
  const reply = new Promise<ResultEventFields>((resolve) =>
    ws.addEventListener("message", (e) => resolve(decodeResultEvent(new Uint8Array(e.data as ArrayBuffer))), { once: true }),
  );
  ws.send(encodeFrameRequest({ participantId: "sim-p", trackId: "t", timestampMs: 1, format, data }));
  return reply;
}

describe("UpstreamSimulator", () => {
  it("refuses an upgrade without the right Authorization header", async () => {
    expect((await openSimulator("sim-auth", "wrong")).status).toBe(401);
  });

  it("answers ERROR for PCM that is not exactly 96 000 bytes, and for undecodable JPEG", async () => {
    const res = await openSimulator("sim-pcm");
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    (ws as WebSocket & { binaryType: string }).binaryType = "arraybuffer";
    const short = await exchange(ws, FrameFormat.PCM, new Uint8Array(48_000));
    expect(short).toMatchObject({ kind: "error", participantId: "sim-p", trackId: "t" });
    expect(short.message).toContain("96000");
    expect(await exchange(ws, FrameFormat.PCM, new Uint8Array(96_000))).toMatchObject({ kind: "clear" });
    // A truncated JPEG and one with a garbage body between its markers.
    expect((await exchange(ws, FrameFormat.JPEG, new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]))).kind).toBe("error");
    expect((await exchange(ws, FrameFormat.JPEG, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 0xff, 0xd9]))).kind).toBe("error");
    expect((await exchange(ws, FrameFormat.WEBP, new Uint8Array(10))).kind).toBe("error");
    ws.close(1000);
  });
});
