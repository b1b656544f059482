/**
 * DELETE during an in-flight webhook delivery (docs/DESIGN.md §7, §8), on workerd's real SQLite: the
 * purge (the object's storage.deleteAll()) empties the outbox and restarts its seqs, so the next
 * session's first event reuses the seq of the row whose request is still out. That request ending
 * afterwards, accepted or refused, must never settle or move the new event's row: the new event
 * stays pending until it is really sent. Driven through the object's webhook part with a consumer
 * the test answers by hand (the pool's 500 ms request timeout would race the steps otherwise).
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DeepfakeAlert } from "../../src/protocol/events.js";
import { WebhookDeadline } from "../../src/session/deadlines.js";
import type { ParticipantSession } from "../../src/session/participant-session.js";
import { Schema } from "../../src/session/schema.js";
import { SessionStore } from "../../src/session/store.js";
import { parseWebhookConfig } from "../../src/webhooks/config.js";
import type { FetchLike } from "../../src/webhooks/deliver.js";
import { WebhookOutbox } from "../../src/webhooks/outbox.js";
import { formatWebhookSecret } from "../../src/webhooks/signing.js";
import { stubFor } from "./helpers.js";

const URL_A = "https://consumer.example/hook";
const config = parseWebhookConfig({ WEBHOOK_URLS: URL_A, WEBHOOK_SECRET: formatWebhookSecret(new Uint8Array(32).fill(9)) });

function alert(id: string): DeepfakeAlert {
  return {
    type: "deepfake_alert", id, level: "alert", previous_level: "clear", participant_id: "p", room_id: null, track_id: "cam",
    message: id, timestamp_ms: Date.now(), reason: "result", simulated: false,
  };
}

const SELECT = "SELECT seq, event_id, status, attempts, last_status, last_error FROM webhook_outbox ORDER BY seq";

describe("a webhook request that ends after DELETE", () => {
  for (const answer of [204, 500] as const) {
    it(`answered ${answer}: the next session's event with the same seq stays pending and is still sent`, async () => {
      await runInDurableObject(stubFor(`purge-race-${answer}-${Date.now()}`), async (_i: ParticipantSession, state) => {
        const sql = state.storage.sql;
        new Schema(sql).migrate();
        const outbox = new WebhookOutbox(sql);
        const sent: string[] = [];
        let release!: (response: Response) => void;
        const fetcher: FetchLike = (_url, init) => {
          sent.push(init.headers["webhook-id"]!);
          if (sent.length === 1) return new Promise<Response>((resolve) => (release = resolve));
          return Promise.resolve(new Response(null, { status: 204 }));
        };
        const part = new WebhookDeadline(outbox, new SessionStore(sql), config, {
          ready: () => true, logFields: () => ({}), claimed: () => {}, fetcher,
        });

        outbox.enqueue(alert("evt_old"), config.urls, Date.now());
        const inFlight = part.run();
        const [old] = sql.exec(SELECT).toArray();
        expect(old).toMatchObject({ event_id: "evt_old", attempts: 1, status: "pending" });

        // DELETE: all storage goes; the next session's first event gets the same seq.
        await state.storage.deleteAll();
        new Schema(sql).migrate();
        outbox.enqueue(alert("evt_new"), config.urls, Date.now());
        expect(sql.exec(SELECT).toArray()).toEqual([
          { seq: old!.seq, event_id: "evt_new", status: "pending", attempts: 0, last_status: null, last_error: null },
        ]);

        for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        release(new Response(null, { status: answer }));
        await inFlight;
        expect(sql.exec(SELECT).toArray()).toEqual([
          { seq: old!.seq, event_id: "evt_new", status: "pending", attempts: 0, last_status: null, last_error: null },
        ]);
        expect(sent).toEqual(["evt_old"]);

        await part.run();
        expect(sent).toEqual(["evt_old", "evt_new"]);
        expect(sql.exec(SELECT).toArray()).toEqual([
          { seq: old!.seq, event_id: "evt_new", status: "delivered", attempts: 1, last_status: 204, last_error: null },
        ]);
      });
    });
  }
});
