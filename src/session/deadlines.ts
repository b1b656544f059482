/**
 * The object's durable deadlines, as parts of its one alarm (./alarm.ts): webhook retries from
 * the outbox (bounded runs, the retry window, redelivery), and the retention purge once the session
 * is idle. Pure: storage is injected.
 */
import type { Config } from "../config/config.js";
import { refuse, type Answer } from "../shared/http.js";
import { errorMessage, log, type LogFields } from "../shared/log.js";
import { runDueDeliveries, type DeliveryOutbox, type FetchLike } from "../webhooks/deliver.js";
import { webhookBody, type WebhookOutbox } from "../webhooks/outbox.js";
import type { DeadlinePart } from "./alarm.js";
import type { Capability } from "./capability.js";
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

/** The outbox operations the webhook part uses (WebhookOutbox fits; Node tests pass a fake). */
export type DeadlineOutbox = DeliveryOutbox &
  Pick<WebhookOutbox, "get" | "pendingFor" | "enqueueRedelivery" | "abandonUrlsNotIn">;

export interface WebhookHooks {
  ready(): boolean;
  logFields(): LogFields;
  /**
   * The outbox changed (claims taken, an outcome recorded, a run ended): re-arm the alarm. Called
   * for each URL as soon as its attempt ends, without waiting for the other URLs.
   */
  claimed(): void;
  fetcher?: FetchLike;
  /** The stored body of an event that is not a transition (a completed check), for redelivery. */
  eventBody?(eventId: string): string | null;
}

/**
 * Webhook deliveries: due rows are attempted when the alarm fires, and right after a transition.
 * Every URL has its own in-order worker; a slow or hanging consumer never holds up another URL's
 * retries, nor the alarm (onDeadline starts the workers and returns).
 */
export class WebhookDeadline implements Capability {
  readonly name = "webhooks";
  /** Moves on every purge: a run started before it stores nothing after it. */
  #generation = 0;

  constructor(
    private readonly outbox: DeadlineOutbox,
    private readonly store: Pick<SessionStore, "historyEvent">,
    private readonly config: Config["webhooks"],
    private readonly hooks: WebhookHooks,
  ) {}

  nextDeadline(): number | null {
    return this.hooks.ready() ? this.outbox.nextDueMs() : null;
  }

  /** A stored session starts again: events pending for URLs no longer configured are abandoned. */
  onStart(_participantId: string, nowMs: number): void {
    this.outbox.abandonUrlsNotIn(this.config.urls, nowMs);
  }

  /**
   * Starts a run for what is due and returns once its claims are taken, without waiting for any
   * consumer: a hanging one must not keep the alarm (and every later retry) busy until it times
   * out. Each worker re-arms the alarm when its attempt ends; a lease covers an object that dies.
   */
  onDeadline(): void {
    this.run().catch((err: unknown) => {
      log("error", "webhook delivery run failed", { ...this.hooks.logFields(), reason: errorMessage(err) });
    });
  }

  /**
   * The session was purged: runs still in flight store nothing and re-arm nothing from now on. (Their
   * outcomes could not touch the next session's rows anyway: they are matched by event id.)
   */
  onPurge(): void {
    this.#generation++;
  }

  /**
   * Attempts what is due now, in one bounded run (WEBHOOK_RUN_BUDGET_MS). Claims are taken
   * synchronously, then `claimed` re-arms the alarm at their leases; each URL's outcome re-arms it
   * again at once, and so does the end of the run. Resolves when every worker of the run ended.
   */
  async run(): Promise<void> {
    const { secretKey, previousSecretKey, scheduleMs, windowMs, timeoutMs, runBudgetMs } = this.config;
    if (!secretKey || !this.hooks.ready()) return;
    const generation = this.#generation;
    const alive = (): boolean => this.#generation === generation && this.hooks.ready();
    const changed = (): void => {
      if (alive()) this.hooks.claimed();
    };
    const fetcher = this.hooks.fetcher;
    const run = runDueDeliveries(this.outbox, {
      secretKey, previousSecretKey, schedule: scheduleMs, windowMs, timeoutMs, budgetMs: runBudgetMs,
      log, logFields: this.hooks.logFields(), alive, changed, ...(fetcher ? { fetcher } : {}),
    });
    this.hooks.claimed();
    await run;
    changed();
  }

  /**
   * Sends a delivered or failed row's event again: a new pending row with the same webhook-id and
   * body, queued behind whatever is pending for that URL, then a run. 404 for an unknown seq.
   */
  redeliver(seq: number, nowMs: number): Answer<Redelivery> {
    const original = this.hooks.ready() ? this.outbox.get(seq) : null;
    if (!original) return refuse(404, "unknown_webhook", `no webhook delivery with seq ${seq} for this participant`);
    const { eventId, url } = original;
    const pending = original.status === "pending" ? original.seq : this.outbox.pendingFor(eventId, url);
    if (pending !== null) {
      return refuse(409, "already_pending", `event ${eventId} is already queued for that URL (seq ${pending})`);
    }
    if (!this.config.secretKey || !this.config.urls.includes(url)) {
      return refuse(409, "url_not_configured", "that URL is no longer in WEBHOOK_URLS");
    }
    const event = original.body === null ? this.store.historyEvent(eventId) : null;
    const body = original.body ?? (event ? webhookBody(event) : (this.hooks.eventBody?.(eventId) ?? null));
    if (body === null) return refuse(409, "event_unavailable", `event ${eventId} is no longer in the history`);
    const newSeq = this.outbox.enqueueRedelivery(original, body, nowMs);
    const fields = { ...this.hooks.logFields(), event: eventId, seq: newSeq, redelivery_of: seq };
    log("info", "webhook redelivery queued", fields);
    this.onDeadline();
    return { ok: true, value: { seq: newSeq, event_id: eventId, url, status: "pending", redelivery_of: seq } };
  }
}

/**
 * The retention purge: set RETENTION_HOURS after the session went idle (no socket, no pending
 * webhook), cleared when it is busy again, stored so it survives eviction. `refresh` moves the
 * stored deadline; `nextDeadline` only reads it.
 */
export class RetentionDeadline implements DeadlinePart {
  readonly name = "retention";

  constructor(
    private readonly store: SessionStore,
    private readonly retentionMs: number,
    private readonly hooks: { ready(): boolean; idle(): boolean; purge(reason: string): Promise<void> },
  ) {}

  /** Stores the purge time when the session is idle and has none yet; clears it when it is busy. */
  refresh(nowMs: number): void {
    if (!this.hooks.ready()) return;
    const idle = this.hooks.idle();
    const at = this.store.getDeadline(RETENTION_DEADLINE);
    if (idle && at === null) this.store.setDeadline(RETENTION_DEADLINE, nowMs + this.retentionMs);
    else if (!idle && at !== null) this.store.setDeadline(RETENTION_DEADLINE, null);
  }

  /** The stored purge time, or null. No side effect. */
  nextDeadline(): number | null {
    return this.hooks.ready() ? this.store.getDeadline(RETENTION_DEADLINE) : null;
  }

  /** When the purge happens (for the snapshot), or null. */
  scheduledAt(): number | null {
    return this.nextDeadline();
  }

  async onDeadline(): Promise<void> {
    if (this.hooks.idle()) await this.hooks.purge("retention expired");
  }
}
