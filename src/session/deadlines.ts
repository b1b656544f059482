/**
 * The object's durable deadlines, as parts of its one alarm (./alarm.ts): webhook retries from
 * the outbox, and the retention purge once the session is idle. Pure: storage is injected.
 */
import type { Config } from "../config/config.js";
import { log, type LogFields } from "../shared/log.js";
import { runDueDeliveries } from "../webhooks/deliver.js";
import type { WebhookOutbox } from "../webhooks/outbox.js";
import type { DeadlinePart } from "./alarm.js";
import type { SessionStore } from "./store.js";

const RETENTION_DEADLINE = "retention";

/** Webhook deliveries: due rows are attempted when the alarm fires, and right after a transition. */
export class WebhookDeadline implements DeadlinePart {
  readonly name = "webhooks";

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly config: Config["webhooks"],
    private readonly hooks: { ready(): boolean; logFields(): LogFields; claimed(): void },
  ) {}

  nextDeadline(): number | null {
    return this.hooks.ready() ? this.outbox.nextDueMs() : null;
  }

  onDeadline(): Promise<void> {
    return this.run();
  }

  /** Attempts what is due now. Claims are taken synchronously, then `claimed` re-arms the alarm at their leases. */
  async run(): Promise<void> {
    const { secretKey, scheduleMs, timeoutMs } = this.config;
    if (!secretKey || !this.hooks.ready()) return;
    const run = runDueDeliveries(this.outbox, { secretKey, schedule: scheduleMs, timeoutMs, log, logFields: this.hooks.logFields() });
    this.hooks.claimed();
    await run;
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
