/**
 * On-demand checks in the participant object (DESIGN §13), in workerd: the route's answers, the
 * window ending on the object's alarm (also in a new instance after an eviction), the completed
 * check committed with its webhook outbox row, and a check answered by the simulator.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ParticipantSession } from "../../src/session/participant-session.js";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { admin, connect, mintToken, rgbFrame, stubFor, type EventSocket } from "./helpers.js";

async function open(id: string): Promise<EventSocket> {
  const s = await connect(id, await mintToken(id));
  await s.next("upstream");
  return s;
}

const startCheck = (id: string, body?: unknown) =>
  admin(`/v1/participants/${id}/checks`, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

/** Moves the running check's window into the past, as if its time had come. */
async function endWindowNow(id: string): Promise<void> {
  await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => {
    state.storage.sql.exec("UPDATE checks SET until_ms = ? WHERE event_id IS NULL", Date.now() - 1);
  });
}

describe("on-demand checks", () => {
  it("POST answers at once (201, then 200 for a join), arms the alarm at the window's end, and the alarm ends it `no_media`", async () => {
    const id = "checks-alarm";
    const s = await open(id);
    const res = await startCheck(id); // empty body: the default 10 s window
    expect(res.status).toBe(201);
    const answer = (await res.json()) as { check_id: string; until_ms: number };
    expect(Object.keys(answer).sort()).toEqual(["check_id", "until_ms"]);
    expect(answer.until_ms - Date.now()).toBeGreaterThan(9_000);
    expect(await s.next("check_started")).toEqual({ type: "check_started", check_id: answer.check_id, participant_id: id, room_id: null, until_ms: answer.until_ms });
    expect(await s.next("rate")).toEqual({ type: "rate", video_fps: 1 }); // the burst rate for the window

    const late = await connect(id, await mintToken(id)); // a socket that joins during the window samples at its rate
    expect(await late.next("ready")).toMatchObject({ level: "clear", video_fps: 1, normal_fps: 0.2 });
    late.ws.close(1000);

    const joined = await startCheck(id, { duration_s: 30 });
    expect(joined.status).toBe(200);
    expect(await joined.json()).toEqual(answer);

    const alarmAt = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => state.storage.getAlarm());
    expect(alarmAt).toBe(answer.until_ms);
    expect(await runDurableObjectAlarm(stubFor(id))).toBe(true); // early: nothing ends
    expect(s.events.some((e) => e.type === "check_completed")).toBe(false);
    s.ws.close(1000);
  });

  it("the window ends on the object's alarm: `no_media`, committed with its webhook outbox row", async () => {
    const id = "checks-window";
    const s = await open(id);
    const answer = (await (await startCheck(id, { duration_s: 1 })).json()) as { check_id: string; until_ms: number };
    await s.next("check_started");
    await new Promise((r) => setTimeout(r, answer.until_ms - Date.now() + 50));
    await runDurableObjectAlarm(stubFor(id)); // runs it now unless the runtime already did
    const done = await s.next("check_completed");
    expect(done).toMatchObject({ check_id: answer.check_id, participant_id: id, room_id: null, level: "clear", outcome: "no_media", results: 0, tracks: [], simulated: true });
    expect(done.completed_ms as number).toBeGreaterThanOrEqual(answer.until_ms);
    expect(s.events.filter((e) => e.type === "rate").map((e) => e.video_fps)).toEqual([1, 0.2]);
    // Committed: the check's row holds its event, and the outbox holds it for the webhook URL.
    const stored = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => ({
      check: state.storage.sql.exec("SELECT event_id, event FROM checks").toArray(),
      outbox: state.storage.sql.exec("SELECT event_id, body, status FROM webhook_outbox").toArray(),
    }));
    expect(stored.check).toEqual([{ event_id: done.id, event: JSON.stringify(done) }]);
    expect(stored.outbox).toEqual([{ event_id: done.id, body: JSON.stringify(done), status: "pending" }]);
    // Delivered (its body dropped), it can still be sent again: the body comes from the check's row.
    const seq = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) =>
      Number(state.storage.sql.exec("UPDATE webhook_outbox SET status = 'delivered', body = NULL RETURNING seq").toArray()[0]!.seq),
    );
    const again = await admin(`/v1/participants/${id}/webhooks/${seq}/redeliver`, { method: "POST" });
    expect(again.status).toBe(200);
    const body = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) =>
      state.storage.sql.exec("SELECT body FROM webhook_outbox WHERE redelivery_of = ?", seq).toArray()[0]?.body,
    );
    expect(body).toBe(JSON.stringify(done));
    s.ws.close(1000);
  });

  it("a window still running when the object is evicted ends on the alarm of a new instance, with the results it had", async () => {
    const id = "checks-evicted";
    const s = await open(id);
    const res = await startCheck(id, { duration_s: 60 });
    const answer = (await res.json()) as { check_id: string };
    s.sendVideo({ trackId: "cam", width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32, 1) });
    const done = await s.next("check_completed");
    expect(done).toMatchObject({ check_id: answer.check_id, outcome: "answered", results: 1, tracks: [{ track_id: "cam", level: "clear" }] });

    // A second check, running when the instance goes away: a fresh instance over the same storage ends it.
    expect((await startCheck(id, { duration_s: 5 })).status).toBe(201);
    await endWindowNow(id);
    await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => {
      const fresh = new ParticipantSession(state, env);
      await fresh.alarm();
      const event = JSON.parse(String(state.storage.sql.exec("SELECT event FROM checks ORDER BY started_ms DESC LIMIT 1").toArray()[0]?.event));
      expect(event).toMatchObject({ type: "check_completed", outcome: "no_media", results: 0 });
    });
    s.ws.close(1000);
  });

  it("refuses bad requests with clear errors, and rate-limits new checks per participant", async () => {
    const id = "checks-refused";
    const s = await open(id);
    expect((await startCheck("checks-nobody")).status).toBe(404);
    const tooLong = await startCheck(id, { duration_s: 61 });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ error: "bad_duration" });
    expect((await admin(`/v1/participants/${id}/checks`, { method: "POST", body: "{nope" })).status).toBe(400);
    await runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => {
      for (let i = 0; i < 10; i++) {
        state.storage.sql.exec("INSERT INTO checks (check_id, started_ms, until_ms, event_id, event) VALUES (?, ?, ?, ?, '{}')", `chk_old${i}`, Date.now() - 60_000 + i, Date.now() - 50_000, `evt_old${i}`);
      }
    });
    const limited = await startCheck(id);
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: "check_rate_limited", message: expect.stringMatching(/at most 10 checks per participant every 600 s; the next one can start in \d+ s/) });
    // The Check message gets the same refusal as an `error` event; the socket stays open.
    s.ws.send(deepfake_edge.v1.ClientMessage.encode({ check: { durationS: 5 } }).finish());
    expect(await s.next("error")).toMatchObject({ code: "check_rate_limited" });
    s.ws.send(deepfake_edge.v1.ClientMessage.encode({ check: { durationS: 90 } }).finish());
    expect(await s.next("error")).toMatchObject({ code: "bad_check" });
    s.ws.close(1000);
  });

  it("the Check message starts a check that the simulator's answer completes `answered`", async () => {
    const id = "checks-message";
    const s = await open(id);
    s.ws.send(deepfake_edge.v1.ClientMessage.encode({ check: { durationS: 20 } }).finish());
    const started = await s.next("check_started");
    s.sendVideo({ trackId: "cam", width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
    const done = await s.next("check_completed");
    expect(done).toMatchObject({ check_id: started.check_id, outcome: "answered", results: 1, tracks: [{ track_id: "cam", level: "clear" }], simulated: true });
    s.ws.close(1000);
  });
});
