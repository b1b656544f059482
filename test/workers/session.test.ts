import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ParticipantSession } from "../../src/session/participant-session.js";
import { ADMIN, call, connect, mintToken, rgbFrame, simulatorStats, steer, waitUntil } from "./helpers.js";

async function session(id: string) {
  return connect(id, await mintToken(id));
}

describe("ParticipantSession", () => {
  it("says ready with the level, rate and simulated flag, then reports the upstream connected", async () => {
    const s = await session("ready-1");
    expect(await s.next("ready")).toMatchObject({ participant_id: "ready-1", level: "clear", video_fps: 0.2, simulated: true, dev_mode: true });
    expect(String((s.events[0] as { notice?: string }).notice)).toContain("SIMULATED");
    expect(await s.next("upstream")).toEqual({ type: "upstream", status: "connected" });
    s.ws.close(1000);
  });

  it("encodes sampled camera frames as JPEG for the upstream and never sends screen frames", async () => {
    const s = await session("video-1");
    await s.next("upstream");
    s.sendVideo({ trackId: "screen", width: 64, height: 48, format: "RGB24", source: "screen", data: rgbFrame(64, 48) });
    s.sendVideo({ trackId: "cam", width: 64, height: 48, format: "RGB24", data: rgbFrame(64, 48) });
    // At 0.2 fps only the first of a burst is sampled.
    for (let i = 1; i < 10; i++) s.sendVideo({ trackId: "cam", width: 64, height: 48, format: "RGB24", data: rgbFrame(64, 48, i) });
    await waitUntil(async () => (await simulatorStats("video-1")).jpeg_frames >= 1);
    await new Promise((r) => setTimeout(r, 300));
    const stats = await simulatorStats("video-1");
    expect(stats.jpeg_frames).toBe(1);
    expect(stats.rejected).toBe(0);
    expect(stats.last_jpeg).toMatchObject({ width: 64, height: 48 });
    const snapshot = (await (await call("/v1/participants/video-1", { headers: ADMIN })).json()) as { counters: Record<string, number> };
    expect(snapshot.counters).toMatchObject({ frames_received: 11, frames_sampled: 1, frames_skipped: 9, screen_frames_dropped: 1, messages_sent: 1 });
    s.ws.close(1000);
  });

  it("emits exactly one deepfake_alert per transition, a rate change, and persists the level", async () => {
    const s = await session("fsm-1");
    await s.next("upstream");
    await steer("fsm-1", "suspicious");
    s.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
    const alert = await s.next("deepfake_alert");
    expect(alert).toMatchObject({ level: "suspicious", previous_level: "clear", participant_id: "fsm-1", track_id: "cam" });
    expect(String(alert.id)).toMatch(/^evt_/);
    expect(await s.next("rate")).toEqual({ type: "rate", video_fps: 1 });
    // A repeated SUSPICIOUS result (next sampled frame, ~1 s later at burst rate) changes nothing.
    await new Promise((r) => setTimeout(r, 1_100));
    s.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32, 1) });
    await waitUntil(async () => (await simulatorStats("fsm-1")).jpeg_frames >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.events.filter((e) => e.type === "deepfake_alert")).toHaveLength(1);

    const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName("fsm-1"));
    const rows = await runInDurableObject(stub, (_instance: ParticipantSession, state) => ({
      participant: state.storage.sql.exec("SELECT level FROM participant").toArray(),
      history: state.storage.sql.exec("SELECT event_id, previous_level, level, track_id FROM history").toArray(),
    }));
    expect(rows.participant).toEqual([{ level: "suspicious" }]);
    expect(rows.history).toEqual([{ event_id: alert.id, previous_level: "clear", level: "suspicious", track_id: "cam" }]);
    s.ws.close(1000);
  });

  it("reports upstream ERROR results without changing the level", async () => {
    const s = await session("err-1");
    await s.next("upstream");
    await steer("err-1", "error");
    s.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
    const error = await s.next("upstream_error");
    expect(error).toMatchObject({ track_id: "cam" });
    const snapshot = (await (await call("/v1/participants/err-1", { headers: ADMIN })).json()) as { level: string; counters: Record<string, number> };
    expect(snapshot.level).toBe("clear");
    expect(snapshot.counters.upstream_errors).toBe(1);
    expect(s.events.some((e) => e.type === "deepfake_alert")).toBe(false);
    s.ws.close(1000);
  });

  it("rejects bad input with an error event and keeps serving the socket and other participants", async () => {
    const bad = await session("bad-1");
    const good = await session("good-1");
    await bad.next("upstream");
    await good.next("upstream");
    bad.ws.send("not protobuf");
    expect(await bad.next("error")).toMatchObject({ code: "text_not_supported" });
    bad.ws.send(new Uint8Array([0xff, 0xff, 0xff]));
    expect(await bad.next("error")).toMatchObject({ code: "decode_failed" });
    bad.sendVideo({ width: 64, height: 48, format: "RGB24", data: new Uint8Array(100) });
    expect(await bad.next("error")).toMatchObject({ code: "bad_frame_size" });
    bad.sendVideo({ width: 64, height: 48, format: "JPEG", data: new Uint8Array(100) });
    expect(await bad.next("error")).toMatchObject({ code: "bad_jpeg" });
    // Still usable: a valid frame goes upstream.
    bad.sendVideo({ width: 64, height: 48, format: "RGB24", data: rgbFrame(64, 48) });
    good.sendVideo({ width: 64, height: 48, format: "RGB24", data: rgbFrame(64, 48) });
    await waitUntil(async () => (await simulatorStats("bad-1")).jpeg_frames === 1 && (await simulatorStats("good-1")).jpeg_frames === 1);
    expect(good.events.some((e) => e.type === "error")).toBe(false);
    bad.ws.close(1000);
    good.ws.close(1000);
  });

  it("sends every event to every socket of the participant", async () => {
    const bot = await session("multi-1");
    const dashboard = await session("multi-1");
    await bot.next("upstream");
    await dashboard.next("ready");
    await steer("multi-1", "alert");
    bot.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
    const a = await bot.next("deepfake_alert");
    const b = await dashboard.next("deepfake_alert");
    expect(b).toEqual(a);
    expect(a).toMatchObject({ level: "alert", previous_level: "clear" });
    bot.ws.close(1000);
    dashboard.ws.close(1000);
  });

  it("stores no media: storage holds only state rows after streaming frames", async () => {
    const s = await session("privacy-1");
    await s.next("upstream");
    await steer("privacy-1", "suspicious");
    s.sendVideo({ width: 320, height: 240, format: "RGB24", data: rgbFrame(320, 240) });
    await s.next("deepfake_alert");
    s.ws.close(1000);
    const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName("privacy-1"));
    const largest = await runInDurableObject(stub, (_instance: ParticipantSession, state) => {
      let max = 0;
      const tables = state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray();
      for (const { name } of tables) {
        for (const row of state.storage.sql.exec(`SELECT * FROM "${String(name)}"`).toArray()) {
          for (const value of Object.values(row)) max = Math.max(max, value instanceof ArrayBuffer ? value.byteLength : String(value).length);
        }
      }
      return max;
    });
    // The largest stored value is a webhook body (~230 B); one 320x240 frame is ≥ 8 KB as JPEG, 230 KB raw.
    expect(largest).toBeLessThan(1_024);
  });

  it("resumes the persisted level when the object is constructed again (restart/eviction)", async () => {
    const s = await session("restart-1");
    await s.next("upstream");
    await steer("restart-1", "alert");
    s.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
    await s.next("deepfake_alert");
    s.ws.close(1000);
    const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName("restart-1"));
    // A second instance over the same storage is what the runtime builds after an eviction or deploy.
    const snapshot = await runInDurableObject(stub, async (_instance: ParticipantSession, state) => {
      const fresh = new ParticipantSession(state, env);
      const answer = await fresh.snapshot();
      return answer.ok ? answer.value : answer;
    });
    expect(snapshot).toMatchObject({ participant_id: "restart-1", level: "alert", video_fps: 0.2 });
  });
});
