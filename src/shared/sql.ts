/** The part of Durable Object SqlStorage that storage modules use (structural, so they test outside the object). */
export interface SqlLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}


/** A TEXT column holding JSON, parsed; `fallback` when it holds no string or no valid JSON. */
export function jsonColumn<T>(text: unknown, fallback: T): T {
  if (typeof text !== "string") return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
