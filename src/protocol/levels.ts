/**
 * Detection levels and upstream result kinds (docs/DESIGN.md §3, §4.2): part of the wire contract. Pure.
 */

export type Level = "clear" | "suspicious" | "alert";

/** All levels, least severe first. */
export const LEVELS: readonly Level[] = Object.freeze(["clear", "suspicious", "alert"] as const);

/** Severity order: clear 0 < suspicious 1 < alert 2. */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

export function isLevel(value: unknown): value is Level {
  return typeof value === "string" && (LEVELS as readonly string[]).includes(value);
}

/** Upstream ResultEvent types (docs/DESIGN.md §3), lower-cased. */
export type ResultKind = "unknown" | "suspicious" | "clear" | "error" | "alert";
