/**
 * After a restart (docs/DESIGN.md §4.6): an object that starts with a stored session re-arms its
 * alarm by itself. (That an alarm-started instance, which knows no name, serves its participant is
 * proven against a real wrangler dev and kill -9 in test/e2e/restart.e2e.test.ts: the pool cannot
 * start an instance from its alarm after an eviction and still tear the object down.)
 * The pool's webhook consumer is http://127.0.0.1:9/hook (nothing listens), so a delivery stays pending.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ParticipantSession } from "../../src/session/participant-session.js";
import { connect, mintToken, stubFor, transition } from "./helpers.js";

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

async function withPendingWebhook(participantId: string): Promise<void> {
  const client = await connect(participantId, await mintToken(participantId));
  await client.next("ready");
  await transition(participantId, "alert");
  client.ws.close(1000);
}

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
    // Armed again, no later than the webhook retry (another part, such as a room report, may be due earlier).
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(pending);
  });
});
