/**
 * Webhook delivery (DESIGN.md §7): one signed POST with a timeout, and a run that drains the due
 * outbox rows, one in-order worker per URL, recording each outcome on the retry schedule.
 * WebCrypto + fetch only; the fetcher, clock, randomness and logger are injected for tests.
 */
import type { LogFields } from "../shared/log.js";
import type { DueDelivery, WebhookOutbox } from "./outbox.js";
import { classifyResponse, nextAttemptDelayMs, parseRetryAfter, DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, WEBHOOK_RETRY_JITTER_RATIO } from "./schedule.js";
import { webhookHeaders } from "./signing.js";
import { WEBHOOK_LEASE_MARGIN_MS, WEBHOOK_TIMEOUT_MS } from "../config/limits.js";

/** Attempts one run makes at most, across all URLs; the rest wait for the next alarm. */
export const WEBHOOK_MAX_ATTEMPTS_PER_RUN = 100;
/** URLs one run serves at most (one worker each). */
export const WEBHOOK_MAX_URLS_PER_RUN = 32;

/** The part of fetch deliverOnce uses; the global fetch fits. */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal; redirect: "manual" }) => Promise<Response>;

export interface DeliveryResult {
  kind: "delivered" | "retry" | "failed";
  /** HTTP status, or null after a network error or timeout. */
  status: number | null;
  error: string | null;
  /** What the consumer's Retry-After asked for, in ms. */
  retryAfterMs: number | null;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
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
    return {
      kind,
      status: response.status,
      error: kind === "delivered" ? null : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
      retryAfterMs: kind === "retry" ? parseRetryAfter(response.headers.get("retry-after"), now()) : null,
    };
  } catch (err) {
    const error = controller.signal.aborted ? `timed out after ${timeoutMs} ms` : `network error: ${describeError(err)}`;
    return { kind: "retry", status: null, error, retryAfterMs: null };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The outbox operations a run needs (WebhookOutbox fits; tests pass a fake). */
export type DeliveryOutbox = Pick<WebhookOutbox, "due" | "dueForUrl" | "claim" | "markDelivered" | "markRetry" | "markFailed" | "nextDueMs">;

export type DeliveryLogger = (level: "info" | "warn" | "error", msg: string, fields: LogFields) => void;

export interface RunDeliveriesOptions {
  /** The raw key from parseWebhookSecret. */
  secretKey: Uint8Array;
  /** Delays between attempts; defaults to DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS. */
  schedule?: readonly number[];
  timeoutMs?: number;
  fetcher?: FetchLike;
  now?: () => number;
  /** Uniform [0, 1) for jitter. */
  random?: () => number;
  jitterRatio?: number;
  /** Called once per event that is given up on (src/log.ts `log` fits). */
  log?: DeliveryLogger;
  /** Added to every log line, e.g. { participant }. */
  logFields?: LogFields;
  maxAttemptsPerRun?: number;
  maxUrlsPerRun?: number;
}

export interface DeliveryRunSummary {
  attempted: number;
  delivered: number;
  retried: number;
  failed: number;
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

/**
 * Delivers the due rows: one worker per URL, concurrent across URLs, in order within a URL (the
 * next event of a URL is only tried once the previous one is delivered or failed). Each attempt
 * is signed with a fresh webhook-timestamp and webhook-id = the event id. Never throws for a
 * delivery problem; storage errors propagate.
 */
export async function runDueDeliveries(outbox: DeliveryOutbox, options: RunDeliveriesOptions): Promise<DeliveryRunSummary> {
  const fetcher: FetchLike = options.fetcher ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const schedule = options.schedule ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const jitterRatio = options.jitterRatio ?? WEBHOOK_RETRY_JITTER_RATIO;
  const summary: DeliveryRunSummary = { attempted: 0, delivered: 0, retried: 0, failed: 0, nextDueMs: null };
  let budget = options.maxAttemptsPerRun ?? WEBHOOK_MAX_ATTEMPTS_PER_RUN;

  const giveUp = (row: DueDelivery, attempt: number, result: DeliveryResult): void => {
    outbox.markFailed(row.seq, result.error, result.status, now());
    summary.failed++;
    const host = hostOf(row.url);
    options.log?.("error", "webhook delivery failed", {
      ...options.logFields,
      event: row.eventId,
      url_host: host,
      status: result.status,
      attempts: attempt,
      reason: result.status === 410 ? "410 gone" : "retries exhausted",
      error: result.error?.split(row.url).join(host) ?? null,
    });
  };

  /** Attempts one row; true when the URL's next event may go now (delivered or given up). */
  const attempt = async (row: DueDelivery): Promise<boolean> => {
    const startedMs = now();
    const attemptNo = outbox.claim(row.seq, startedMs + timeoutMs + WEBHOOK_LEASE_MARGIN_MS, startedMs);
    if (attemptNo === null) return false; // another run holds it
    summary.attempted++;
    let result: DeliveryResult;
    try {
      const headers = await webhookHeaders(options.secretKey, row.eventId, Math.floor(startedMs / 1000), row.body);
      result = await deliverOnce(fetcher, row.url, row.body, headers, timeoutMs, now);
    } catch (err) {
      result = { kind: "retry", status: null, error: `signing failed: ${describeError(err)}`, retryAfterMs: null };
    }
    if (result.kind === "delivered") {
      outbox.markDelivered(row.seq, result.status ?? 200, now());
      summary.delivered++;
      return true;
    }
    if (result.kind === "failed") {
      giveUp(row, attemptNo, result);
      return true;
    }
    const delayMs = nextAttemptDelayMs(attemptNo, schedule, result.retryAfterMs, random, jitterRatio);
    if (delayMs === null) {
      giveUp(row, attemptNo, result);
      return true;
    }
    outbox.markRetry(row.seq, result.error, result.status, now() + delayMs, now());
    summary.retried++;
    return false;
  };

  const worker = async (first: DueDelivery): Promise<void> => {
    let row: DueDelivery | null = first;
    while (row && budget > 0) {
      budget--;
      if (!(await attempt(row))) return;
      row = outbox.dueForUrl(row.url, now());
    }
  };

  const heads = outbox.due(now(), options.maxUrlsPerRun ?? WEBHOOK_MAX_URLS_PER_RUN);
  await Promise.all(heads.map(worker));
  summary.nextDueMs = outbox.nextDueMs();
  return summary;
}
