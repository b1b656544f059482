/**
 * The per-socket budgets inside workerd (docs/DESIGN.md §5), where the object's clock is workerd's: a
 * burst of raw 1080p frames gets at most the encode budget's worth encoded, the rest throttled
 * before any pixel work, and the socket stays open.
 */
import { describe, expect, it } from "vitest";
import { ADMIN, call, connect, mintToken, steer, waitUntil } from "./helpers.js";

describe("encode budget", () => {
  it("8 tracks of 1080p I420 at once: about 1.25 encodes a second (after a burst of 2), the rest throttled", async () => {
    const id = "budget-1";
    const s = await connect(id, await mintToken(id));
    await s.next("upstream");
    await steer(id, "suspicious");
    const i420 = new Uint8Array(1920 * 1080 * 1.5);
    const started = Date.now();
    for (let round = 0; round < 3; round++) {
      for (let t = 0; t < 8; t++) s.sendVideo({ trackId: `t${t}`, width: 1920, height: 1080, format: "I420", data: i420 });
      await new Promise((r) => setTimeout(r, 300));
    }
    const counters = async () => ((await (await call(`/v1/participants/${id}`, { headers: ADMIN })).json()) as { counters: Record<string, number> }).counters;
    await waitUntil(async () => (await counters()).frames_received === 24, 20_000);
    const k = await counters();
    const seconds = (Date.now() - started) / 1000;
    console.log(`[measure] encode budget in workerd: 24 frames of 1080p I420 over ${seconds.toFixed(1)} s: ${k.frames_sampled} encoded, ${k.frames_throttled} throttled, ${k.frames_busy} busy, ${k.frames_skipped} skipped`);
    expect(k.frames_throttled).toBeGreaterThan(0);
    expect(k.frames_sampled).toBeLessThanOrEqual(2 + Math.ceil(1.25 * seconds));
    expect(s.events.filter((e) => e.type === "error")).toEqual([]);
    s.ws.close(1000);
  });
});
