/**
 * Router helpers: the JSON error envelope, RPC answers as responses, and the validators each
 * parameter goes through once. Pure apart from Hono.
 */
import type { Context, MiddlewareHandler } from "hono";
import { validator } from "hono/validator";
import type { Config } from "../config/config.js";
import { PARTICIPANT_ID_PATTERN } from "../config/limits.js";
import type { Env } from "../env.js";
import { parseEventsQuery, parseWebhooksQuery, type QueryResult } from "../session/queries.js";
import type { Answer, ErrorBody } from "../shared/http.js";
import { authorizeAdmin } from "./auth.js";
import { checkSocketOrigin } from "./origin.js";

export type AppEnv = { Bindings: Env; Variables: { config: Config } };
type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 426 | 429 | 500 | 503;

/** The router's error response: the one envelope of src/shared/http.ts, `{"error": "<code>", "message": "…"}`. */
export const replyError = (c: Context<AppEnv>, status: ErrorStatus, error: string, message: string) =>
  c.json({ error, message } satisfies ErrorBody, status);

/** An RPC answer from an object, as the HTTP response. */
export function reply<T>(c: Context<AppEnv>, answer: Answer<T>) {
  return answer.ok ? c.json(answer.value as object) : replyError(c, answer.status, answer.error, answer.message);
}

/** Refused credentials: 401 `unauthorized` (none, or not valid), 403 `forbidden` (valid, but not for this). */
export function replyAuthRefusal(c: Context<AppEnv>, refusal: { status: 401 | 403; message: string }) {
  return replyError(c, refusal.status, refusal.status === 403 ? "forbidden" : "unauthorized", refusal.message);
}

const PARTICIPANT_ID_MESSAGE = "participant id must be 1-128 characters of [A-Za-z0-9._:-]";

/** The one participant-id check, for every route with an `:id`. */
export const validParticipantId: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!PARTICIPANT_ID_PATTERN.test(c.req.param("id") ?? ""))
    return replyError(c, 400, "bad_participant_id", PARTICIPANT_ID_MESSAGE);
  await next();
};

export function isParticipantId(value: unknown): value is string {
  return typeof value === "string" && PARTICIPANT_ID_PATTERN.test(value);
}

export { PARTICIPANT_ID_MESSAGE };

/** Management routes, token minting and simulator controls: `Authorization: Bearer <ADMIN_API_KEY>`. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const auth = await authorizeAdmin(c.var.config, c.req.raw);
  if (!auth.ok) return replyAuthRefusal(c, auth);
  await next();
};

/**
 * Socket routes opened by browsers (participant sockets, the room watch socket): 403 `origin_not_allowed`
 * for a page of an origin that is neither the service's own nor in ALLOWED_ORIGINS, before any auth or
 * upgrade. Requests without `Origin` pass.
 */
export const requireAllowedOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = checkSocketOrigin(c.var.config, c.req.raw);
  if (!origin.ok) return replyError(c, origin.status, "origin_not_allowed", origin.message);
  await next();
};

function queryValidator<T>(parse: (params: URLSearchParams) => QueryResult<T>) {
  return validator("query", (_value, c: Context<AppEnv>) => {
    const parsed = parse(new URL(c.req.url).searchParams);
    return parsed.ok ? parsed.value : replyError(c, 400, "bad_query", parsed.message);
  });
}

/** `:seq` of a webhook outbox row: a positive integer. */
export const webhookSeq = validator("param", (value: Record<string, string>, c: Context<AppEnv>) => {
  const seq = Number(value.seq);
  return /^[1-9][0-9]{0,15}$/.test(value.seq ?? "") && Number.isSafeInteger(seq)
    ? { seq }
    : replyError(c, 400, "bad_seq", "seq must be a positive integer (a seq from GET …/webhooks)");
});

export const eventsQuery = queryValidator(parseEventsQuery);
export const webhooksQuery = queryValidator(parseWebhooksQuery);
