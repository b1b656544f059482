/**
 * Identity after a restart (docs/DESIGN.md §4): an object is one participant whatever woke it. An
 * instance that its own alarm started (to retry a webhook after a crash, say) may not know the name
 * it was addressed by; a client reconnecting to it is accepted like any other, and RPC answers for
 * the stored participant. An object that starts with a stored session re-arms its alarm by itself.
 * The pool's webhook consumer is http://127.0.0.1:9/hook (nothing listens), so a delivery stays pending.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ParticipantSession } from "../../src/session/participant-session.js";
import { ADMIN, call, connect, mintToken, stubFor, transition } from "./helpers.js";

/** What a deploy or a crash does: the instance is thrown away with its sockets and memory. */
async function evict(participantId: string): Promise<void> {
  await runInDurableObject(stubFor(participantId), (_instance: ParticipantSession, state) => {
    try {
      state.abort("test: simulated restart");
    } catch {
      // abort() throws in the caller by design
    }
  }).catch(() => undefined);
}

/** A stub for the same object that carries no name, as the runtime's alarm start has none. */
function namelessStub(participantId: string) {
  const ns = env.PARTICIPANT_SESSION;
  return ns.get(ns.idFromString(ns.idFromName(participantId).toString()));
}

async function withPendingWebhook(participantId: string): Promise<void> {
  const client = await connect(participantId, await mintToken(participantId));
  await client.next("ready");
  await transition(participantId, "alert");
  client.ws.close(1000);
}

describe("an object restarted by its alarm", () => {
  it("knows no name, yet accepts its participant's upgrade with the stored level and answers RPC", async () => {
    const id = "restart-alarm-1";
    await withPendingWebhook(id);
    await evict(id);

    // The alarm starts a fresh instance with no name (the webhook retry after a crash).
    const nameless = namelessStub(id);
    const name = await runInDurableObject(nameless, (_instance: ParticipantSession, state) => state.id.name);
    expect(name).toBeUndefined();
    await runDurableObjectAlarm(nameless);

    // The participant reconnects to that same instance: accepted, with the stored level.
    const again = await connect(id, await mintToken(id));
    expect(await again.next("ready")).toMatchObject({ participant_id: id, level: "alert" });
    const snapshot = await call(`/v1/participants/${id}`, { headers: ADMIN });
    expect(snapshot.status).toBe(200);
    expect(await snapshot.json()).toMatchObject({ participant_id: id, level: "alert" });
    const history = await call(`/v1/participants/${id}/events`, { headers: ADMIN });
    expect(((await history.json()) as { events: unknown[] }).events).toHaveLength(1);
    again.ws.close(1000);
  });

  it("refuses RPC and upgrades that name another participant", async () => {
    const id = "restart-alarm-2";
    await withPendingWebhook(id);
    const stub = stubFor(id);
    expect(await stub.snapshot("someone-else")).toMatchObject({ ok: false, status: 409, error: "wrong_participant" });
    expect(await stub.snapshot(id)).toMatchObject({ ok: true, value: { participant_id: id, level: "alert" } });
    const res = await stub.fetch("https://object/v1/participants/someone-else/stream", { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: "wrong_participant" });
  });
});

describe("an object that starts with a stored session", () => {
  it("re-arms its alarm from its stored deadlines without any request", async () => {
    const id = "restart-rearm-1";
    await withPendingWebhook(id);
    // The physical alarm is lost (as if the restart came between a deadline's write and its arming).
    await runInDurableObject(stubFor(id), (_instance: ParticipantSession, state) => state.storage.deleteAlarm());
    expect(await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => state.storage.getAlarm())).toBeNull();
    await evict(id);
    // The next instance is built by the runtime; none of its entry points is called here.
    const alarm = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => state.storage.getAlarm());
    const pending = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) =>
      Number(state.storage.sql.exec("SELECT MIN(next_attempt_ms) AS at FROM webhook_outbox WHERE status = 'pending'").one().at));
    expect(alarm).toBe(pending);
  });
});
