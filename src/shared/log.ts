/**
 * Structured JSON logs (one object per line, as Workers Logs and `wrangler tail` index them).
 * Never pass media, tokens or keys here.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function log(level: "info" | "warn" | "error", msg: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** A readable reason for a caught value: an Error's message (its name when the message is empty), else String(). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
