/**
 * The object's durable deadlines, as parts of its one alarm (./alarm.ts): webhook retries from
 * the outbox (bounded runs, the retry window, redelivery), and the retention purge once the session
 * is idle. Pure: storage is injected.
 */
import type { Config } from "../config/config.js";
import { PAGE_MAX_ROWS } from "../config/limits.js";
import type { DeepfakeAlert } from "../protocol/events.js";
import { refuse, type Answer } from "../shared/http.js";
import { errorMessage, log, type LogFields } from "../shared/log.js";
import { runDueDeliveries, type FetchLike } from "../webhooks/deliver.js";
import { webhookBody, type WebhookOutbox } from "../webhooks/outbox.js";
import type { DeadlinePart } from "./alarm.js";
import type { SessionStore } from "./store.js";

const RETENTION_DEADLINE = "retention";

/** What `POST /v1/participants/:id/webhooks/:seq/redeliver` answers: the new pending row. */
export interface Redelivery {
  seq: number;
  event_id: string;
  url: string;
  status: "pending";
  redelivery_of: number;
}

/** An event of the history by id, through the store's own paging (redelivery is rare). */
function historyEvent(store: SessionStore, eventId: string): DeepfakeAlert | null {
  let after: string | null = null;
  for (;;) {
    const page = store.listHistory(after, PAGE_MAX_ROWS);
    const hit = page?.find((event) => event.id === eventId);
    if (hit) return hit;
    if (!page || page.length < PAGE_MAX_ROWS) return null;
    after = page[page.length - 1]!.id;
  }
}

/** Webhook deliveries: due rows are attempted when the alarm fires, and right after a transition. */
export class WebhookDeadline implements DeadlinePart {
  readonly name = "webhooks";

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly store: SessionStore,
    private readonly config: Config["webhooks"],
    private readonly hooks: { ready(): boolean; logFields(): LogFields; claimed(): void; fetcher?: FetchLike },
  ) {}

  nextDeadline(): number | null {
    return this.hooks.ready() ? this.outbox.nextDueMs() : null;
  }

  onDeadline(): Promise<void> {
    return this.run();
  }

  /**
   * Attempts what is due now, in one bounded run (WEBHOOK_RUN_BUDGET_MS). Claims are taken
   * synchronously, then `claimed` re-arms the alarm at their leases; what the run leaves due keeps
   * the alarm armed in the past, so the next run follows at once.
   */
  async run(): Promise<void> {
    const { secretKey, previousSecretKey, scheduleMs, windowMs, timeoutMs, runBudgetMs } = this.config;
    if (!secretKey || !this.hooks.ready()) return;
    const fetcher = this.hooks.fetcher;
    const run = runDueDeliveries(this.outbox, { secretKey, previousSecretKey, schedule: scheduleMs, windowMs, timeoutMs, budgetMs: runBudgetMs, log, logFields: this.hooks.logFields(), ...(fetcher ? { fetcher } : {}) });
    this.hooks.claimed();
    await run;
  }

  /**
   * Sends a delivered or failed row's event again: a new pending row with the same webhook-id and
   * body, queued behind whatever is pending for that URL, then a run. 404 for an unknown seq.
   */
  redeliver(seq: number, nowMs: number): Answer<Redelivery> {
    const original = this.hooks.ready() ? this.outbox.get(seq) : null;
    if (!original) return refuse(404, "unknown_webhook", `no webhook delivery with seq ${seq} for this participant`);
    const pending = original.status === "pending" ? original.seq : this.outbox.pendingFor(original.eventId, original.url);
    if (pending !== null) return refuse(409, "already_pending", `event ${original.eventId} is already queued for that URL (seq ${pending})`);
    if (!this.config.secretKey || !this.config.urls.includes(original.url)) return refuse(409, "url_not_configured", "that URL is no longer in WEBHOOK_URLS");
    const event = original.body === null ? historyEvent(this.store, original.eventId) : null;
    const body = original.body ?? (event ? webhookBody(event) : null);
    if (body === null) return refuse(409, "event_unavailable", `event ${original.eventId} is no longer in the history`);
    const newSeq = this.outbox.enqueueRedelivery(original, body, nowMs);
    log("info", "webhook redelivery queued", { ...this.hooks.logFields(), event: original.eventId, seq: newSeq, redelivery_of: seq });
    this.run().then(
      () => this.hooks.claimed(),
      (err: unknown) => log("error", "webhook delivery run failed", { ...this.hooks.logFields(), reason: errorMessage(err) }),
    );
    return { ok: true, value: { seq: newSeq, event_id: original.eventId, url: original.url, status: "pending", redelivery_of: seq } };
  }
}

/**
 * The retention purge: set RETENTION_HOURS after the session went idle (no socket, no pending
 * webhook), cleared when it is busy again, stored so it survives eviction.
 */
export class RetentionDeadline implements DeadlinePart {
  readonly name = "retention";

  constructor(
    private readonly store: SessionStore,
    private readonly retentionMs: number,
    private readonly hooks: { ready(): boolean; idle(): boolean; purge(reason: string): Promise<void> },
  ) {}

  /** Also moves the stored deadline: set when idle and unset, cleared when busy. */
  nextDeadline(nowMs: number): number | null {
    if (!this.hooks.ready()) return null;
    const idle = this.hooks.idle();
    let at = this.store.getDeadline(RETENTION_DEADLINE);
    if (idle && at === null) {
      at = nowMs + this.retentionMs;
      this.store.setDeadline(RETENTION_DEADLINE, at);
    } else if (!idle && at !== null) {
      this.store.setDeadline(RETENTION_DEADLINE, null);
      at = null;
    }
    return at;
  }

  /** When the purge happens (for the snapshot), or null. */
  scheduledAt(): number | null {
    return this.hooks.ready() ? this.store.getDeadline(RETENTION_DEADLINE) : null;
  }

  async onDeadline(): Promise<void> {
    if (this.hooks.idle()) await this.hooks.purge("retention expired");
  }
}
