/**
 * Eviction and deploys (docs/DESIGN.md §4): the runtime drops every socket of an object and builds a
 * fresh instance over the same storage. The participant's level and history resume from storage,
 * and the upstream (an outgoing socket, which lives in memory only) reconnects for the next media.
 */
import { describe, expect, it } from "vitest";
import { ADMIN, call, connect, evict, mintToken, rgbFrame, simulatorStats, steer, stubFor, waitUntil } from "./helpers.js";


describe("eviction", () => {
  it("an aborted object (every socket dropped) resumes its level from storage and reconnects upstream with the next media", async () => {
    const id = "evict-1";
    const first = await connect(id, await mintToken(id));
    await first.next("upstream");
    await steer(id, "alert");
    first.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
    expect(await first.next("deepfake_alert")).toMatchObject({ level: "alert" });
    const framesBefore = (await simulatorStats(id)).jpeg_frames;
    const closed = new Promise<number>((resolve) => first.ws.addEventListener("close", (e) => resolve(e.code)));

    // What a deploy or an eviction does: the instance is thrown away with its sockets and memory.
    await evict(id);
    const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
    expect(code, "the client socket is dropped with the instance").not.toBe(-1);

    // The client reconnects: a fresh instance, built from storage, knows the level.
    const second = await connect(id, await mintToken(id));
    expect(await second.next("ready")).toMatchObject({ participant_id: id, level: "alert" });
    const snapshot = (await (await call(`/v1/participants/${id}`, { headers: ADMIN })).json()) as { level: string };
    expect(snapshot.level).toBe("alert");
    // The transition was stored in its transaction before the instance went away (counters are
    // batched every few seconds and may lose those last seconds; history never does).
    const history = (await (await call(`/v1/participants/${id}/events`, { headers: ADMIN })).json()) as { events: Array<{ level: string }> };
    expect(history.events.map((e) => e.level)).toEqual(["alert"]);

    // The next media goes upstream over a new connection.
    await second.next("upstream");
    await steer(id, "clear");
    second.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32, 7) });
    await waitUntil(async () => (await simulatorStats(id)).jpeg_frames > framesBefore, 10_000);
    expect(await second.next("deepfake_alert")).toMatchObject({ level: "clear", previous_level: "alert" });
    second.ws.close(1000);
  });
});
