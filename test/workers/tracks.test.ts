/**
 * Detection state per track in the participant object (docs/DESIGN.md §4): the alarm makes a silent track
 * stop counting on time, a leaving socket closes its tracks, a restart resumes per-track levels,
 * and a failing transaction leaves memory and events untouched.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ParticipantSession } from "../../src/session/participant-session.js";
import { ADMIN, call, connect, type EventSocket, mintToken, rgbFrame, simulatorStats, steer, stubFor, waitUntil } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(id: string): Promise<EventSocket> {
  const s = await connect(id, await mintToken(id));
  await s.next("upstream");
  return s;
}

async function frameOn(s: EventSocket, id: string, trackId: string): Promise<void> {
  const before = (await simulatorStats(id)).jpeg_frames;
  s.sendVideo({ trackId, width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
  await waitUntil(async () => (await simulatorStats(id)).jpeg_frames > before);
  await sleep(100); // the result travels back
}

async function snapshot(id: string) {
  return (await (await call(`/v1/participants/${id}`, { headers: ADMIN })).json()) as {
    level: string;
    tracks: Array<{ track_id: string; level: string | null; counts_until_ms: number; last_activity_ms: number }>;
    counters: Record<string, number>;
    history: { events: number };
  };
}

/** Leaves the participant with track `alerting` in ALERT and track `clear` in CLEAR (level ALERT). */
async function alertAndClear(id: string, alerting: EventSocket, alertTrack: string, clearing: EventSocket, clearTrack: string) {
  await steer(id, "alert");
  await frameOn(alerting, id, alertTrack); // clear -> alert on alertTrack
  for (const socket of new Set([alerting, clearing])) await socket.next("deepfake_alert");
  await frameOn(clearing, id, clearTrack); // ALERT on clearTrack too, no transition
  await steer(id, "clear"); // the simulator answers at once on the last frame's track: clearTrack -> CLEAR
  await sleep(200);
}

describe("per-track detection state", () => {
  it("arms the object's alarm at the track deadline; the alarm makes a silent track stop counting (track_expired)", async () => {
    const id = "tracks-expiry";
    const s = await open(id);
    await alertAndClear(id, s, "mic", s, "cam");
    const snap = await snapshot(id);
    expect(snap.level).toBe("alert");
    const mic = snap.tracks.find((t) => t.track_id === "mic")!;
    expect(mic).toMatchObject({ level: "alert" });
    expect(mic.counts_until_ms - mic.last_activity_ms).toBe(120_000);
    // One alarm for every deadline: the earliest of the track deadlines and the pending webhook retry.
    const { alarmAt, retryAt } = await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => ({
      alarmAt: await state.storage.getAlarm(),
      retryAt: Number(state.storage.sql.exec("SELECT MIN(next_attempt_ms) AS at FROM webhook_outbox WHERE status = 'pending'").toArray()[0]?.at ?? Infinity),
    }));
    expect(alarmAt).toBe(Math.min(retryAt, ...snap.tracks.map((t) => t.counts_until_ms)));
    // Not due yet: the alarm changes nothing.
    expect(await runDurableObjectAlarm(stubFor(id))).toBe(true);
    expect((await snapshot(id)).level).toBe("alert");
    // Due: an object whose ttl has passed for the microphone (a 1 s ttl, over the same storage).
    await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => {
      state.storage.sql.exec("UPDATE tracks SET last_activity_ms = ? WHERE track_id = 'mic'", Date.now() - 10_000);
      const later = new ParticipantSession(state, { ...env, TRACK_TTL_S: "2" });
      await later.alarm();
      const rows = state.storage.sql.exec("SELECT level, reason, track_id FROM history ORDER BY seq").toArray();
      expect(rows.at(-1)).toEqual({ level: "clear", reason: "track_expired", track_id: "mic" });
      expect(state.storage.sql.exec("SELECT track_id FROM tracks").toArray().map((r) => r.track_id)).toEqual(["cam"]);
    });
    const expired = await s.next("deepfake_alert");
    expect(expired).toMatchObject({ level: "clear", previous_level: "alert", track_id: "mic", reason: "track_expired", simulated: true });
    expect(String(expired.message)).toMatch(/mic stopped counting/);
    s.ws.close(1000);
  });

  it("a socket that leaves closes the tracks only it fed (track_closed), while another socket's track keeps counting", async () => {
    const id = "tracks-closed";
    const a = await open(id);
    const b = await open(id);
    await alertAndClear(id, b, "screen-cam", a, "cam"); // B feeds the alerting track
    expect((await snapshot(id)).level).toBe("alert");
    b.ws.close(1000);
    const closed = await a.next("deepfake_alert");
    expect(closed).toMatchObject({ level: "clear", previous_level: "alert", track_id: "screen-cam", reason: "track_closed" });
    const snap = await snapshot(id);
    expect(snap.tracks.map((t) => [t.track_id, t.level])).toEqual([["cam", "clear"]]);
    a.ws.close(1000);
  });

  it("a restart resumes per-track levels: camera ALERT and microphone CLEAR, then a microphone CLEAR gives no transition", async () => {
    const id = "tracks-restart";
    const s = await open(id);
    await alertAndClear(id, s, "camera", s, "microphone");
    const before = await snapshot(id);
    expect(before.level).toBe("alert");
    const socketCount = await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => {
      // A second instance over the same storage is what the runtime builds after an eviction or deploy.
      const restarted = new ParticipantSession(state, env);
      const resumed = await restarted.snapshot();
      expect(resumed.ok && resumed.value.level).toBe("alert");
      expect(resumed.ok && resumed.value.tracks.map((t) => [t.track_id, t.level])).toEqual([["camera", "alert"], ["microphone", "clear"]]);
      // The simulator still answers CLEAR: a microphone frame through the restarted instance.
      const [ws] = state.getWebSockets("client");
      const frame = (await import("../../src/gen/ingest.js")).deepfake_edge.v1.ClientMessage.encode({
        video: { trackId: "microphone", width: 32, height: 32, format: 1, source: 1, timestampMs: Date.now(), data: rgbFrame(32, 32, 7) },
      }).finish();
      await restarted.webSocketMessage(ws!, frame.slice().buffer);
      await waitUntil(async () => {
        const snap = await restarted.snapshot();
        return snap.ok && snap.value.counters.results >= 1;
      });
      const after = await restarted.snapshot();
      expect(after.ok && after.value.level).toBe("alert");
      expect(after.ok && after.value.history.events).toBe(before.history.events);
      return state.getWebSockets().length;
    });
    expect(socketCount).toBe(1);
    expect(s.events.filter((e) => e.type === "deepfake_alert")).toHaveLength(1); // only the first clear -> alert
    s.ws.close(1000);
  });

  it("a failing transaction leaves memory and events untouched, and the same result applied again still transitions", async () => {
    const id = "tracks-txfail";
    const s = await open(id);
    await frameOn(s, id, "cam"); // CLEAR on cam: the schema exists, one track row
    await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => {
      state.storage.sql.exec("CREATE TRIGGER injected_failure BEFORE INSERT ON history BEGIN SELECT RAISE(ABORT, 'injected storage failure'); END");
    });
    await steer(id, "alert"); // answered at once on cam: ALERT, but the history insert fails -> the transaction throws
    await sleep(500);
    let snap = await snapshot(id);
    expect(snap.level).toBe("clear");
    expect(snap.tracks.find((t) => t.track_id === "cam")?.level).toBe("clear");
    expect(snap.counters.storage_errors).toBe(1);
    expect(s.events.filter((e) => e.type === "deepfake_alert")).toEqual([]);
    await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => {
      state.storage.sql.exec("DROP TRIGGER injected_failure");
    });
    await steer(id, "alert"); // the same ALERT on cam again
    const alert = await s.next("deepfake_alert");
    expect(alert).toMatchObject({ previous_level: "clear", level: "alert", track_id: "cam", reason: "result" });
    snap = await snapshot(id);
    expect(snap.level).toBe("alert");
    expect(snap.history.events).toBe(1);
    s.ws.close(1000);
  });
});
