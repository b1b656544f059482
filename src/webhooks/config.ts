/**
 * Webhook vars (docs/DESIGN.md §7) -> a validated WebhookConfig. Fails closed: URLs without a secret is
 * an error. Pure: no Workers imports.
 */
import { parseRetrySchedule, parseRetryWindow } from "./schedule.js";
import { parseWebhookSecret } from "./signing.js";
import {
  WEBHOOK_RUN_BUDGET_MS,
  WEBHOOK_TIMEOUT_MAX_MS,
  WEBHOOK_TIMEOUT_MIN_MS,
  WEBHOOK_TIMEOUT_MS,
} from "../config/limits.js";

export const WEBHOOK_MAX_URLS = 10;

export interface WebhookVars {
  /** Comma-separated http(s) URLs; blank disables webhooks. */
  WEBHOOK_URLS?: string;
  /** `whsec_<base64>`; required when WEBHOOK_URLS is set. */
  WEBHOOK_SECRET?: string;
  /** During a rotation, the secret being replaced: every request carries a signature with each. */
  WEBHOOK_SECRET_PREVIOUS?: string;
  /** e.g. "1s,2s,10s*12,5m" or "200,400,800" (ms); blank = the default (../config/limits.ts). */
  WEBHOOK_RETRY_SCHEDULE?: string;
  /** How long after its creation an event is retried at most, e.g. "3d" (the default) or "90s". */
  WEBHOOK_RETRY_WINDOW?: string;
  WEBHOOK_TIMEOUT_MS?: string;
}

export interface WebhookConfig {
  /** Empty when webhooks are off. */
  urls: string[];
  /** Null when webhooks are off. */
  secretKey: Uint8Array<ArrayBuffer> | null;
  /** The key being rotated out (WEBHOOK_SECRET_PREVIOUS), or null: it also signs every request. */
  previousSecretKey: Uint8Array<ArrayBuffer> | null;
  scheduleMs: number[];
  /** An event still pending this long after its creation is marked failed. */
  windowMs: number;
  timeoutMs: number;
  /** Wall time one delivery run may take (WEBHOOK_RUN_BUDGET_MS; not a var). */
  runBudgetMs: number;
}

/** Returns the config, or throws an Error listing every problem (never echoing the secret). */
export function parseWebhookConfig(vars: WebhookVars): WebhookConfig {
  const problems: string[] = [];

  const urls: string[] = [];
  for (const raw of (vars.WEBHOOK_URLS ?? "").split(",")) {
    const text = raw.trim();
    if (text === "") continue;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      problems.push(`WEBHOOK_URLS entry ${JSON.stringify(text)} is not a URL`);
      continue;
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      problems.push(`WEBHOOK_URLS entry ${JSON.stringify(text)} must be http(s)`);
      continue;
    }
    if (!urls.includes(url.href)) urls.push(url.href);
  }
  if (urls.length > WEBHOOK_MAX_URLS) {
    problems.push(`WEBHOOK_URLS has ${urls.length} URLs; at most ${WEBHOOK_MAX_URLS} are allowed`);
  }

  let secretKey: Uint8Array<ArrayBuffer> | null = null;
  const secret = (vars.WEBHOOK_SECRET ?? "").trim();
  if (secret !== "") {
    try {
      secretKey = parseWebhookSecret(secret);
    } catch (err) {
      problems.push((err as Error).message);
    }
  } else if (urls.length > 0) {
    problems.push(
      "WEBHOOK_SECRET is not set but WEBHOOK_URLS is " +
        "(`wrangler secret put WEBHOOK_SECRET` with a whsec_<base64> value)",
    );
  }

  let previousSecretKey: Uint8Array<ArrayBuffer> | null = null;
  const previous = (vars.WEBHOOK_SECRET_PREVIOUS ?? "").trim();
  if (previous !== "") {
    try {
      previousSecretKey = parseWebhookSecret(previous, "WEBHOOK_SECRET_PREVIOUS");
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (secret === "") {
      problems.push(
        "WEBHOOK_SECRET_PREVIOUS is set but WEBHOOK_SECRET is not " +
          "(the previous secret only signs alongside the current one)",
      );
    }
    if (previous === secret) previousSecretKey = null;
  }

  let scheduleMs: number[] = [];
  try {
    scheduleMs = parseRetrySchedule(vars.WEBHOOK_RETRY_SCHEDULE ?? "");
  } catch (err) {
    problems.push((err as Error).message);
  }
  let windowMs = 0;
  try {
    windowMs = parseRetryWindow(vars.WEBHOOK_RETRY_WINDOW ?? "");
  } catch (err) {
    problems.push((err as Error).message);
  }

  let timeoutMs = WEBHOOK_TIMEOUT_MS;
  const timeoutRaw = (vars.WEBHOOK_TIMEOUT_MS ?? "").trim();
  if (timeoutRaw !== "") {
    const value = Number(timeoutRaw);
    if (!Number.isInteger(value) || value < WEBHOOK_TIMEOUT_MIN_MS || value > WEBHOOK_TIMEOUT_MAX_MS) {
      const range = `[${WEBHOOK_TIMEOUT_MIN_MS}, ${WEBHOOK_TIMEOUT_MAX_MS}]`;
      problems.push(`WEBHOOK_TIMEOUT_MS=${JSON.stringify(timeoutRaw)} must be an integer in ${range}`);
    } else {
      timeoutMs = value;
    }
  }

  if (problems.length > 0) throw new Error(`Invalid webhook configuration: ${problems.join("; ")}`);
  const on = urls.length > 0;
  return {
    urls,
    secretKey: on ? secretKey : null,
    previousSecretKey: on ? previousSecretKey : null,
    scheduleMs,
    windowMs,
    timeoutMs,
    runBudgetMs: WEBHOOK_RUN_BUDGET_MS,
  };
}
