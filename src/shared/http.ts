/**
 * The one JSON error envelope of the HTTP surface, used by the Worker and by the objects alike:
 * `{"error": "<code>", "message": "…"}` with a status. Pure.
 */

export interface ErrorBody {
  error: string;
  message: string;
}

/** What an RPC method answers when the request cannot be served; the router turns it into a response. */
export interface Refusal extends ErrorBody {
  status: 400 | 404 | 409 | 426 | 429 | 500;
}

export type Answer<T> = { ok: true; value: T } | ({ ok: false } & Refusal);

export const refuse = (status: Refusal["status"], error: string, message: string): { ok: false } & Refusal => ({
  ok: false,
  status,
  error,
  message,
});

export function jsonError(status: number, error: string, message: string): Response {
  return Response.json({ error, message } satisfies ErrorBody, { status });
}
