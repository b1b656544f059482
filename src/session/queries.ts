/**
 * Validation of the REST query strings the participant object answers (DESIGN.md §6). Pure.
 */
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX } from "../config.js";

export type QueryResult<T> = { ok: true; value: T } | { ok: false; message: string };

const EVENT_ID_PATTERN = /^evt_[0-9a-z]{1,64}$/;
const STATUSES = ["pending", "delivered", "failed"] as const;
export type OutboxStatusFilter = (typeof STATUSES)[number];

function parseLimit(raw: string | null): QueryResult<number> {
  if (raw === null || raw === "") return { ok: true, value: EVENTS_PAGE_DEFAULT };
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > EVENTS_PAGE_MAX) {
    return { ok: false, message: `limit must be an integer from 1 to ${EVENTS_PAGE_MAX}` };
  }
  return { ok: true, value };
}

/** `?after=<event id>&limit=` for the transition history. */
export function parseEventsQuery(params: URLSearchParams): QueryResult<{ after: string | null; limit: number }> {
  const limit = parseLimit(params.get("limit"));
  if (!limit.ok) return limit;
  const after = params.get("after");
  if (after !== null && after !== "" && !EVENT_ID_PATTERN.test(after)) return { ok: false, message: "after must be an event id (evt_…)" };
  return { ok: true, value: { after: after || null, limit: limit.value } };
}

/** `?status=pending|delivered|failed&after=<seq>&limit=` for the webhook outbox. */
export function parseWebhooksQuery(params: URLSearchParams): QueryResult<{ status: OutboxStatusFilter | undefined; afterSeq: number; limit: number }> {
  const limit = parseLimit(params.get("limit"));
  if (!limit.ok) return limit;
  const status = params.get("status");
  if (status !== null && status !== "" && !STATUSES.includes(status as OutboxStatusFilter)) {
    return { ok: false, message: `status must be one of ${STATUSES.join(", ")}` };
  }
  const afterRaw = params.get("after");
  const afterSeq = afterRaw === null || afterRaw === "" ? 0 : Number(afterRaw);
  if (!Number.isInteger(afterSeq) || afterSeq < 0) return { ok: false, message: "after must be a non-negative integer (a seq from a previous page)" };
  return { ok: true, value: { status: (status || undefined) as OutboxStatusFilter | undefined, afterSeq, limit: limit.value } };
}
