/**
 * Webhook delivery (docs/DESIGN.md §7): one signed POST with a timeout, and a bounded run that drains the
 * due outbox rows with one in-order worker per URL. Each worker records its URL's outcomes on the
 * retry schedule as they happen and reports each one at once (`changed`), so a URL's retry is armed
 * when its attempt ends, whatever the other URLs' workers are waiting for. Rows that outlived the
 * retry window are failed. WebCrypto + fetch only; the fetcher, clock, randomness and logger are
 * injected for tests.
 */
import { errorMessage, type LogFields } from "../shared/log.js";
import type { DeliveryClaim, DueDelivery, ExpiredDelivery, WebhookOutbox } from "./outbox.js";
import {
  classifyResponse,
  formatDuration,
  nextAttemptAtMs,
  parseRetryAfter,
} from "./schedule.js";
import {
  WEBHOOK_RETRY_JITTER_RATIO,
  WEBHOOK_RETRY_SCHEDULE_MS,
  WEBHOOK_LEASE_MARGIN_MS,
  WEBHOOK_MAX_ATTEMPTS_PER_RUN,
  WEBHOOK_RETRY_WINDOW_MS,
  WEBHOOK_RUN_BUDGET_MS,
  WEBHOOK_TIMEOUT_MS,
} from "../config/limits.js";
import { webhookHeaders } from "./signing.js";

/** URLs one run serves at most (one worker each). */
export const WEBHOOK_MAX_URLS_PER_RUN = 32;

/** The part of fetch deliverOnce uses; the global fetch fits. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal; redirect: "manual" },
) => Promise<Response>;

export interface DeliveryResult {
  kind: "delivered" | "retry" | "failed";
  /** HTTP status, or null after a network error or timeout. */
  status: number | null;
  error: string | null;
  /** What the consumer's Retry-After asked for, in ms. */
  retryAfterMs: number | null;
}

/**
 * POSTs one webhook. Never throws: a network error or timeout is a "retry" with status null.
 * Redirects are not followed (a 3xx is retried like any non-2xx).
 */
export async function deliverOnce(
  fetcher: FetchLike,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number = WEBHOOK_TIMEOUT_MS,
  now: () => number = Date.now,
): Promise<DeliveryResult> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, timeoutMs);
  });
  try {
    const request = Promise.resolve().then(() =>
      fetcher(url, { method: "POST", headers, body, signal: controller.signal, redirect: "manual" }),
    );
    // The race also covers a fetcher that ignores the abort signal.
    const response = await Promise.race([request, timedOut]);
    if (response === "timeout") {
      request.then((late) => late.body?.cancel().catch(() => {}), () => {});
      return { kind: "retry", status: null, error: `timed out after ${timeoutMs} ms`, retryAfterMs: null };
    }
    // The consumer's reply body is not needed; release the connection.
    response.body?.cancel().catch(() => {});
    const kind = classifyResponse(response.status);
    const statusText = response.statusText;
    return {
      kind,
      status: response.status,
      error: kind === "delivered" ? null : `HTTP ${response.status}${statusText ? ` ${statusText}` : ""}`,
      retryAfterMs: kind === "retry" ? parseRetryAfter(response.headers.get("retry-after"), now()) : null,
    };
  } catch (err) {
    const error = controller.signal.aborted
      ? `timed out after ${timeoutMs} ms`
      : `network error: ${errorMessage(err)}`;
    return { kind: "retry", status: null, error, retryAfterMs: null };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The outbox operations a run needs (WebhookOutbox fits; tests pass a fake). */
export type DeliveryOutbox = Pick<
  WebhookOutbox,
  "due" | "dueForUrl" | "claim" | "markDelivered" | "markRetry" | "markFailed" | "expire" | "nextDueMs"
>;

export type DeliveryLogger = (level: "info" | "warn" | "error", msg: string, fields: LogFields) => void;

export interface RunDeliveriesOptions {
  /** The raw key from parseWebhookSecret. */
  secretKey: Uint8Array;
  /** During a rotation, the key being replaced: each request is signed with both. */
  previousSecretKey?: Uint8Array | null;
  /** Delays between attempts; defaults to WEBHOOK_RETRY_SCHEDULE_MS (../config/limits.ts). */
  schedule?: readonly number[];
  /** A row still pending this long after its creation is failed (default 3 days). */
  windowMs?: number;
  /** No attempt starts that could end later than this after the run began (default 30 s). */
  budgetMs?: number;
  timeoutMs?: number;
  fetcher?: FetchLike;
  now?: () => number;
  /** Uniform [0, 1) for jitter. */
  random?: () => number;
  jitterRatio?: number;
  /** Called once per event that is given up on (src/shared/log.ts `log` fits). */
  log?: DeliveryLogger;
  /** Added to every log line, e.g. { participant }. */
  logFields?: LogFields;
  maxAttemptsPerRun?: number;
  maxUrlsPerRun?: number;
  /**
   * Called right after an outcome of this URL was recorded (delivered, retry scheduled, failed) and
   * when its worker stops with work left: re-arm the alarm here. It does not wait for other URLs.
   */
  changed?: (url: string) => void;
  /**
   * Checked after every request, before its outcome is stored: false once the session was purged,
   * and the run then stops without touching storage (default: always true).
   */
  alive?: () => boolean;
}

export interface DeliveryRunSummary {
  attempted: number;
  delivered: number;
  retried: number;
  /** Given up on: 410, schedule exhausted, or the retry window closed (counted in expired too). */
  failed: number;
  expired: number;
  /** True when the run stopped with due work left (attempt count or time budget): re-arm at once. */
  budgetExhausted: boolean;
  /** The outbox's next deadline after this run (arm the alarm to it), or null. */
  nextDueMs: number | null;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "invalid-url";
  }
}

/** What one attempt leaves its URL's worker to do. */
type AttemptEnd = "next" | "retry" | "stop";

/**
 * Delivers the due rows: one worker per URL, concurrent across URLs, in order within a URL (the
 * next event of a URL is only tried once the previous one is delivered or failed, and then at once).
 * Each attempt is signed with a fresh webhook-timestamp and webhook-id = the event id, and its
 * outcome is recorded against its claim (seq, event id, attempt). Rows whose retry window closed
 * are failed first. The run is bounded: at most maxAttemptsPerRun attempts, and no attempt starts
 * unless its timeout ends inside budgetMs, so however slow the consumer, the run ends within the
 * budget; what is left stays due (summary.nextDueMs). All claims of the run's first attempts are
 * taken before this function first yields. Never throws for a delivery problem; storage errors
 * propagate.
 */
export async function runDueDeliveries(
  outbox: DeliveryOutbox,
  options: RunDeliveriesOptions,
): Promise<DeliveryRunSummary> {
  const fetcher: FetchLike = options.fetcher ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const alive = options.alive ?? (() => true);
  const changed = options.changed ?? (() => {});
  const schedule = options.schedule ?? WEBHOOK_RETRY_SCHEDULE_MS;
  const windowMs = options.windowMs ?? WEBHOOK_RETRY_WINDOW_MS;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const jitterRatio = options.jitterRatio ?? WEBHOOK_RETRY_JITTER_RATIO;
  const keys = options.previousSecretKey ? [options.secretKey, options.previousSecretKey] : [options.secretKey];
  const summary: DeliveryRunSummary = {
    attempted: 0, delivered: 0, retried: 0, failed: 0, expired: 0, budgetExhausted: false, nextDueMs: null,
  };
  let attemptsLeft = options.maxAttemptsPerRun ?? WEBHOOK_MAX_ATTEMPTS_PER_RUN;
  const runEndsMs = now() + (options.budgetMs ?? WEBHOOK_RUN_BUDGET_MS);
  const windowReason = `retry window closed: still pending ${formatDuration(windowMs)} after it was queued`;

  /** Gives the row up; false when its claim no longer matches a row (the session was purged). */
  const giveUp = (row: DueDelivery, claim: DeliveryClaim, result: DeliveryResult, reason: string): boolean => {
    if (!outbox.markFailed(claim, result.error, result.status, now())) return false;
    summary.failed++;
    const host = hostOf(row.url);
    options.log?.("error", "webhook delivery failed", {
      ...options.logFields,
      event: row.eventId,
      url_host: host,
      status: result.status,
      attempts: claim.attempt,
      reason,
      error: result.error?.split(row.url).join(host) ?? null,
    });
    return true;
  };

  /** Fails what outlived the window: one log line per URL, however large its backlog. */
  const expire = (): void => {
    const expired = outbox.expire(now() - windowMs, windowReason, now());
    if (expired.length === 0) return;
    summary.expired += expired.length;
    summary.failed += expired.length;
    const byUrl = new Map<string, ExpiredDelivery[]>();
    for (const row of expired) byUrl.set(row.url, [...(byUrl.get(row.url) ?? []), row]);
    for (const [url, rows] of byUrl) {
      options.log?.("error", "webhook delivery failed", {
        ...options.logFields,
        event: rows[0]!.eventId,
        events: rows.length,
        url_host: hostOf(url),
        attempts: rows[0]!.attempts,
        reason: "retry window closed",
        window: formatDuration(windowMs),
      });
    }
  };

  /** Attempts one row and records its outcome against its claim. */
  const attempt = async (row: DueDelivery): Promise<AttemptEnd> => {
    const startedMs = now();
    const attemptNo = outbox.claim(row.seq, startedMs + timeoutMs + WEBHOOK_LEASE_MARGIN_MS, startedMs);
    if (attemptNo === null) return "stop"; // another run holds it
    const claim: DeliveryClaim = { seq: row.seq, eventId: row.eventId, attempt: attemptNo };
    summary.attempted++;
    let result: DeliveryResult;
    try {
      const headers = await webhookHeaders(keys, row.eventId, Math.floor(startedMs / 1000), row.body);
      result = await deliverOnce(fetcher, row.url, row.body, headers, timeoutMs, now);
    } catch (err) {
      result = { kind: "retry", status: null, error: `signing failed: ${errorMessage(err)}`, retryAfterMs: null };
    }
    // The session may have been purged while the request was out: its rows are gone, and a row
    // that reused the seq is another event's. Then nothing is stored and the worker stops.
    if (!alive()) return "stop";
    if (result.kind === "delivered") {
      if (!outbox.markDelivered(claim, result.status ?? 200, now())) return "stop";
      summary.delivered++;
      return "next";
    }
    if (result.kind === "failed") return giveUp(row, claim, result, "410 gone") ? "next" : "stop";
    const endedMs = now();
    const nextMs = nextAttemptAtMs({
      attemptsSoFar: attemptNo, schedule, createdMs: row.createdMs, startedMs, endedMs,
      retryAfterMs: result.retryAfterMs, windowMs, random, jitterRatio,
    });
    if (nextMs === null) return giveUp(row, claim, result, "retries exhausted") ? "next" : "stop";
    if (!outbox.markRetry(claim, result.error, result.status, nextMs, endedMs)) return "stop";
    summary.retried++;
    return "retry";
  };

  /** One URL's worker: in order, reporting every outcome as soon as it is stored. */
  const worker = async (first: DueDelivery): Promise<void> => {
    let row: DueDelivery | null = first;
    while (row) {
      if (attemptsLeft <= 0 || now() + timeoutMs > runEndsMs) {
        summary.budgetExhausted = true;
        changed(row.url);
        return;
      }
      attemptsLeft--;
      const end = await attempt(row);
      if (end === "stop") return;
      changed(row.url);
      if (end === "retry") return;
      expire();
      row = outbox.dueForUrl(row.url, now());
    }
  };

  expire();
  const heads = outbox.due(now(), options.maxUrlsPerRun ?? WEBHOOK_MAX_URLS_PER_RUN);
  await Promise.all(heads.map(worker));
  if (alive()) summary.nextDueMs = outbox.nextDueMs();
  return summary;
}
