/**
 * After a restart (docs/DESIGN.md §4.6): an object that starts with a stored session re-arms its
 * alarm by itself, and an instance that its alarm started, which knows no name (`ctx.id.name` is
 * undefined), still serves its participant: upgrades, RPC, and a 409 for anyone else. Here the
 * nameless start is a stub from idFromString (it carries no name, as the runtime's alarm does not)
 * and runDurableObjectAlarm; test/e2e/restart.e2e.test.ts does the same with kill -9 of wrangler dev.
 * The pool's webhook consumer is http://127.0.0.1:9/hook (nothing listens), so a delivery stays pending.
 * Pool limitation (0.15.1, workerd 1.20260426.1): aborting an instance while its webhook fetch is in
 * flight leaves the pool hanging after the file's last test, so evict() (helpers.ts) waits until the
 * delivery attempt is recorded.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ParticipantSession } from "../../src/session/participant-session.js";
import { ADMIN, call, connect, evict, mintToken, outbox, stubFor, transition, waitUntil } from "./helpers.js";

/** A session at `alert` whose webhook failed once and waits for its retry (no delivery in flight). */
async function withPendingWebhook(participantId: string): Promise<void> {
  const client = await connect(participantId, await mintToken(participantId));
  await client.next("ready");
  await transition(participantId, "alert");
  client.ws.close(1000);
  await waitUntil(async () => (await outbox(participantId)).some((w) => w.attempts === 1));
}

/** A stub of the same object that carries no name: the instance it starts knows none. */
function namelessStubFor(participantId: string) {
  const ns = env.PARTICIPANT_SESSION;
  return ns.get(ns.idFromString(ns.idFromName(participantId).toString()));
}

const NEXT_RETRY = "SELECT MIN(next_attempt_ms) AS at FROM webhook_outbox WHERE status = 'pending'";

describe("an object that starts with a stored session", () => {
  it("re-arms its alarm from its stored deadlines without any request", async () => {
    const id = "restart-rearm-1";
    await withPendingWebhook(id);
    // The physical alarm is lost (as if the restart came between a deadline's write and its arming).
    await runInDurableObject(stubFor(id), (_instance: ParticipantSession, state) => state.storage.deleteAlarm());
    const lost = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => state.storage.getAlarm());
    expect(lost).toBeNull();
    await evict(id);
    // The next instance is built by the runtime; none of its entry points is called here.
    const alarm = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => state.storage.getAlarm());
    const pending = await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) =>
      Number(state.storage.sql.exec(NEXT_RETRY).one().at));
    // Armed again, no later than the webhook retry (another part, such as a room report, may be due earlier).
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(pending);
  });

  it("started by its alarm (a webhook retry), it accepts its participant's upgrade and answers RPC", async () => {
    const id = "restart-alarm-1";
    await withPendingWebhook(id);
    // The retry falls due while the object is down.
    await runInDurableObject(stubFor(id), (_i: ParticipantSession, state) => {
      state.storage.sql.exec("UPDATE webhook_outbox SET next_attempt_ms = ? WHERE status = 'pending'", Date.now());
    });
    await evict(id);

    const nameless = namelessStubFor(id);
    expect(await runDurableObjectAlarm(nameless), "the alarm is what starts the instance").toBe(true);
    expect(await runInDurableObject(nameless, (_i: ParticipantSession, state) => state.id.name)).toBeUndefined();
    // The alarm retried the webhook (the consumer is still down, so it stays pending).
    await waitUntil(async () => (await outbox(id)).some((w) => w.attempts >= 2 && w.status === "pending"));

    // The participant reconnects through the router: the same nameless instance takes the upgrade.
    const client = await connect(id, await mintToken(id));
    expect(await client.next("ready")).toMatchObject({ participant_id: id, level: "alert" });
    const snapshot = await call(`/v1/participants/${id}`, { headers: ADMIN });
    expect(snapshot.status).toBe(200);
    expect(await snapshot.json()).toMatchObject({ participant_id: id, level: "alert", clients: 1 });
    const history = (await (await call(`/v1/participants/${id}/events`, { headers: ADMIN })).json()) as {
      events: Array<{ level: string }>;
    };
    expect(history.events.map((e) => e.level)).toEqual(["alert"]);
    expect(await runInDurableObject(nameless, (_i: ParticipantSession, state) => state.id.name)).toBeUndefined();

    // Naming another participant is refused, over RPC and on an upgrade.
    expect(await nameless.snapshot("restart-someone-else")).toMatchObject({
      ok: false, status: 409, error: "wrong_participant",
    });
    const upgrade = await nameless.fetch("https://object/v1/participants/restart-someone-else/stream", {
      headers: { Upgrade: "websocket" },
    });
    expect(upgrade.status).toBe(409);
    expect(await upgrade.json()).toMatchObject({ error: "wrong_participant" });
    client.ws.close(1000);
  });
});
