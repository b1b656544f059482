/** The part of Durable Object SqlStorage that storage modules use (structural, so they test outside the object). */
export interface SqlLike {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

