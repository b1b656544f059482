/**
 * Durability in the participant object: the transition transaction, the single alarm for webhook
 * retries and retention, the purge, and the REST routes over stored state.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ParticipantSession } from "../../src/session/participant-session.js";
import { ADMIN, admin, call, connect, mintToken, rgbFrame, steer, stubFor, transition } from "./helpers.js";



interface OutboxRow {
  event_id: string;
  status: string;
  attempts: number;
  next_attempt_ms: number | null;
}

async function outboxState(id: string) {
  return runInDurableObject(stubFor(id), async (_i: ParticipantSession, state) => ({
    rows: state.storage.sql.exec("SELECT event_id, status, attempts, next_attempt_ms FROM webhook_outbox ORDER BY seq").toArray() as unknown as OutboxRow[],
    history: state.storage.sql.exec("SELECT event_id FROM history ORDER BY seq").toArray().map((r) => r.event_id),
    alarm: await state.storage.getAlarm(),
  }));
}

describe("transitions, webhook outbox and the alarm", () => {
  it("writes a history row and its outbox row together, then schedules the retry on the alarm", async () => {
    const alert = await transition("dur-1", "suspicious");
    // The first attempt runs at once and fails (nothing listens at the sink's address).
    let state = await outboxState("dur-1");
    for (let i = 0; i < 50 && state.rows[0]?.attempts !== 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await outboxState("dur-1");
    }
    expect(state.history).toEqual([alert.id]);
    expect(state.rows).toHaveLength(1);
    const row = state.rows[0]!;
    expect(row).toMatchObject({ event_id: alert.id, status: "pending", attempts: 1 });
    // Retry 1 is due 60 s (± 10 % jitter) after the failed attempt, and the alarm is armed to it.
    expect(row.next_attempt_ms! - Date.now()).toBeGreaterThan(50_000);
    expect(row.next_attempt_ms! - Date.now()).toBeLessThan(67_000);
    expect(state.alarm).toBe(row.next_attempt_ms);

    // Firing the alarm early delivers nothing that is not due.
    expect(await runDurableObjectAlarm(stubFor("dur-1"))).toBe(true);
    expect((await outboxState("dur-1")).rows[0]!.attempts).toBe(1);

    // Make the retry due: the alarm makes attempt 2, then attempt 3 is the last (schedule has 2 delays).
    for (const attempt of [2, 3]) {
      await runInDurableObject(stubFor("dur-1"), (_i: ParticipantSession, s) => {
        s.storage.sql.exec("UPDATE webhook_outbox SET next_attempt_ms = ? WHERE status = 'pending'", Date.now() - 1);
        // Keep the alarm in the future so that runDurableObjectAlarm, not the runtime, fires it.
        return s.storage.setAlarm(Date.now() + 3_600_000);
      });
      expect(await runDurableObjectAlarm(stubFor("dur-1"))).toBe(true);
      expect((await outboxState("dur-1")).rows[0]!.attempts).toBe(attempt);
    }
    state = await outboxState("dur-1");
    expect(state.rows[0]!.status).toBe("failed");
    const listed = (await (await admin("/v1/participants/dur-1/webhooks")).json()) as { failed: number; webhooks: Array<{ last_error: string }> };
    expect(listed.failed).toBe(1);
    expect(listed.webhooks[0]!.last_error).toBeTruthy();
  });

  it("purges everything when the retention deadline passes with no clients and nothing pending", async () => {
    const s = await connect("dur-2", await mintToken("dur-2"));
    await s.next("ready");
    s.ws.close(1000);
    // The object arms the retention deadline (24 h) when the last client leaves.
    let deadline: number | null = null;
    for (let i = 0; i < 50 && deadline === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      deadline = ((await (await admin("/v1/participants/dur-2")).json()) as { retention_purge_at_ms: number | null }).retention_purge_at_ms;
    }
    expect(deadline! - Date.now()).toBeGreaterThan(23 * 3600_000);
    await runInDurableObject(stubFor("dur-2"), async (_i: ParticipantSession, state) => {
      expect(await state.storage.getAlarm()).toBe(deadline);
      state.storage.sql.exec("UPDATE deadlines SET at_ms = ? WHERE name = 'retention'", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stubFor("dur-2"))).toBe(true);
    const leftovers = await runInDurableObject(stubFor("dur-2"), async (_i: ParticipantSession, state) => ({
      tables: state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray(),
      alarm: await state.storage.getAlarm(),
    }));
    expect(leftovers).toEqual({ tables: [], alarm: null });
    expect((await admin("/v1/participants/dur-2")).status).toBe(404);
  });

  it("leaves nothing behind for a participant that was only looked up", async () => {
    expect((await admin("/v1/participants/never-seen")).status).toBe(404);
    const tables = await runInDurableObject(stubFor("never-seen"), (_i: ParticipantSession, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray(),
    );
    expect(tables).toEqual([]);
  });
});

describe("REST over stored state", () => {
  it("pages the history oldest first and validates the query", async () => {
    const first = await transition("rest-1", "suspicious");
    const second = await transition("rest-1", "alert");
    const third = await transition("rest-1", "clear");
    const page1 = (await (await admin("/v1/participants/rest-1/events?limit=2")).json()) as { events: Array<{ id: string; level: string; previous_level: string }>; next_after: string };
    expect(page1.events.map((e) => [e.id, e.previous_level, e.level])).toEqual([
      [first.id, "clear", "suspicious"],
      [second.id, "suspicious", "alert"],
    ]);
    expect(page1.next_after).toBe(second.id);
    const page2 = (await (await admin(`/v1/participants/rest-1/events?after=${page1.next_after}&limit=2`)).json()) as { events: unknown[]; next_after: string | null };
    expect(page2.events).toEqual([third]);
    expect(page2.next_after).toBeNull();
    expect((await admin("/v1/participants/rest-1/events?limit=0")).status).toBe(400);
    expect((await admin("/v1/participants/rest-1/events?after=nope")).status).toBe(400);
    expect((await admin("/v1/participants/rest-1/webhooks?status=lost")).status).toBe(400);
    expect((await call("/v1/participants/rest-1/events", { headers: { Authorization: "Bearer wrong" } })).status).toBe(401);
  });

  it("DELETE closes the sockets and purges the session", async () => {
    await transition("rest-2", "alert");
    const s = await connect("rest-2", await mintToken("rest-2"));
    await s.next("ready");
    const closed = new Promise<number>((resolve) => s.ws.addEventListener("close", (e) => resolve(e.code)));
    const res = await admin("/v1/participants/rest-2", { method: "DELETE" });
    expect(await res.json()).toEqual({ deleted: true, participant_id: "rest-2" });
    expect(await closed).toBe(1000);
    expect((await admin("/v1/participants/rest-2")).status).toBe(404);
    expect((await admin("/v1/participants/rest-2/events")).status).toBe(404);
    // A new connection starts a fresh session at CLEAR.
    const again = await connect("rest-2", await mintToken("rest-2"));
    expect(await again.next("ready")).toMatchObject({ level: "clear" });
    again.ws.close(1000);
  });
});
