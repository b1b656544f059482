/**
 * Validation of the REST query strings the participant object answers (docs/DESIGN.md §6). Pure.
 */
import { PAGE_DEFAULT_ROWS, PAGE_MAX_ROWS } from "../config/limits.js";
import { OUTBOX_STATUSES, type OutboxStatus } from "../webhooks/outbox.js";

export type QueryResult<T> = { ok: true; value: T } | { ok: false; message: string };

const EVENT_ID_PATTERN = /^evt_[0-9a-z]{1,64}$/;

function parseLimit(raw: string | null): QueryResult<number> {
  if (raw === null || raw === "") return { ok: true, value: PAGE_DEFAULT_ROWS };
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > PAGE_MAX_ROWS) {
    return { ok: false, message: `limit must be an integer from 1 to ${PAGE_MAX_ROWS}` };
  }
  return { ok: true, value };
}

export interface EventsQuery {
  after: string | null;
  limit: number;
}

export interface WebhooksQuery {
  status: OutboxStatus | undefined;
  afterSeq: number;
  limit: number;
}

/** `?after=<event id>&limit=` for the transition history. */
export function parseEventsQuery(params: URLSearchParams): QueryResult<EventsQuery> {
  const limit = parseLimit(params.get("limit"));
  if (!limit.ok) return limit;
  const after = params.get("after");
  if (after !== null && after !== "" && !EVENT_ID_PATTERN.test(after))
    return { ok: false, message: "after must be an event id (evt_…)" };
  return { ok: true, value: { after: after || null, limit: limit.value } };
}

/** `?status=pending|delivered|failed&after=<seq>&limit=` for the webhook outbox. */
export function parseWebhooksQuery(params: URLSearchParams): QueryResult<WebhooksQuery> {
  const limit = parseLimit(params.get("limit"));
  if (!limit.ok) return limit;
  const status = params.get("status");
  if (status !== null && status !== "" && !OUTBOX_STATUSES.includes(status as OutboxStatus)) {
    return { ok: false, message: `status must be one of ${OUTBOX_STATUSES.join(", ")}` };
  }
  const afterRaw = params.get("after");
  const afterSeq = afterRaw === null || afterRaw === "" ? 0 : Number(afterRaw);
  if (!Number.isInteger(afterSeq) || afterSeq < 0)
    return { ok: false, message: "after must be a non-negative integer (a seq from a previous page)" };
  return {
    ok: true,
    value: { status: (status || undefined) as OutboxStatus | undefined, afterSeq, limit: limit.value },
  };
}
