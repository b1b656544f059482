/**
 * A participant's detection state (docs/DESIGN.md §4.2, §4.3). Pure: no Workers or Node imports, no timers.
 *
 * - Each track (camera, microphone, ...) keeps the level of its latest result and its last
 *   activity: the time of the last FrameRequest sent upstream for it (or of its last result).
 * - The participant's level is the most severe level among tracks that still count
 *   (ALERT > SUSPICIOUS > CLEAR), so a camera in ALERT and a microphone reporting CLEAR
 *   do not make the participant flap.
 * - A track stops counting once it is closed (its last feeding socket left) or silent for
 *   `trackTtlMs`. The level is then re-evaluated at once: `closeTrack()` and `expire()` (called from
 *   the object's alarm at `nextExpiryMs()`) return the transition, if the level moves, with reason
 *   `track_closed` / `track_expired`. When no track counts any more, the level holds.
 * - A result for a track that had stopped counting starts it again.
 * - Per-track levels are persisted with the participant's level and given back to the constructor
 *   after a restart, so a restarted object resumes exactly where it was and never flaps.
 * - Changes are computed on a `clone()` and adopted only once storage has committed them (memory
 *   follows storage): nothing here writes anywhere.
 */

import type { AlertReason } from "../protocol/events.js";
import { LEVELS, isLevel, levelRank, type Level, type ResultKind } from "../protocol/levels.js";

/** A change of the participant's level, caused by `trackId`. */
export interface Transition {
  previous: Level;
  level: Level;
  trackId: string;
  message: string;
  reason: AlertReason;
}

export type Outcome =
  | { kind: "transition"; transition: Transition }
  | { kind: "unchanged"; level: Level }
  | { kind: "error"; trackId: string; message: string }
  | { kind: "unknown"; trackId: string };

/** One track as persisted and as shown in the snapshot. */
export interface TrackState {
  trackId: string;
  /** Latest level reported for the track; null until its first level result. */
  level: Level | null;
  lastActivityMs: number;
}

export interface DetectionStateOptions {
  /** Level before the first result: CLEAR, or the persisted level after a restart. */
  initialLevel: Level;
  /** Silence after which a track stops counting, in ms (TRACK_TTL_S; 120 s by default). */
  trackTtlMs: number;
  /** Persisted tracks (after a restart). */
  tracks?: readonly TrackState[];
}

interface TrackEntry {
  level: Level | null;
  lastActivityMs: number;
}

export class DetectionState {
  readonly #trackTtlMs: number;
  readonly #tracks = new Map<string, TrackEntry>();
  #level: Level;

  constructor(options: DetectionStateOptions) {
    if (!isLevel(options.initialLevel)) {
      throw new TypeError(`initialLevel must be one of ${LEVELS.join(", ")}`);
    }
    if (!Number.isFinite(options.trackTtlMs) || options.trackTtlMs <= 0) {
      throw new RangeError(`trackTtlMs must be a finite number > 0, got ${options.trackTtlMs}`);
    }
    this.#level = options.initialLevel;
    this.#trackTtlMs = options.trackTtlMs;
    for (const t of options.tracks ?? []) {
      if (isLevel(t.level) || t.level === null)
        this.#tracks.set(t.trackId, { level: t.level, lastActivityMs: t.lastActivityMs });
    }
  }

  /** The participant's current level. */
  get level(): Level {
    return this.#level;
  }

  get trackTtlMs(): number {
    return this.#trackTtlMs;
  }

  /** An independent copy: changes are computed on it and adopted once stored. */
  clone(): DetectionState {
    return new DetectionState({ initialLevel: this.#level, trackTtlMs: this.#trackTtlMs, tracks: this.#rows() });
  }

  /** A FrameRequest for this track was sent upstream at nowMs (keeps the track counting). */
  touchTrack(trackId: string, nowMs: number): void {
    this.#touch(trackId, nowMs);
  }

  /**
   * Applies one upstream result at nowMs. SUSPICIOUS/CLEAR/ALERT set the track's level (and count as
   * activity; a track that had stopped counting starts again), then the participant level is
   * recomputed. ERROR and UNKNOWN change nothing.
   */
  applyResult(kind: ResultKind, trackId: string, message: string, nowMs: number): Outcome {
    switch (kind) {
      case "error":
        return { kind: "error", trackId, message };
      case "unknown":
        return { kind: "unknown", trackId };
      case "clear":
      case "suspicious":
      case "alert": {
        this.#touch(trackId, nowMs).level = kind;
        this.#pruneExpired(nowMs);
        const transition = this.#reevaluate(trackId, message, "result");
        return transition ? { kind: "transition", transition } : { kind: "unchanged", level: this.#level };
      }
      default: {
        const unreachable: never = kind;
        throw new TypeError(`unknown result kind: ${String(unreachable)}`);
      }
    }
  }

  /**
   * The track's last feeding socket left at nowMs: it stops counting now, and the level is
   * re-evaluated over the tracks that still count (call expire() first to report expired ones).
   */
  closeTrack(trackId: string, nowMs: number): Transition | null {
    const entry = this.#tracks.get(trackId);
    if (!entry) return null;
    this.#tracks.delete(trackId);
    this.#pruneExpired(nowMs);
    if (entry.level === null) return null;
    return this.#reevaluate(trackId, `track ${trackId} closed: the socket feeding it left`, "track_closed");
  }

  /** Tracks silent for the ttl stop counting; returns them and the transition, if the level moved. */
  expire(nowMs: number): { expired: string[]; transition: Transition | null } {
    const expired: string[] = [];
    // The transition names the most severe track that stopped counting.
    let cause: { trackId: string; level: Level } | null = null;
    for (const [trackId, entry] of this.#tracks) {
      if (!this.#isExpired(entry, nowMs)) continue;
      this.#tracks.delete(trackId);
      expired.push(trackId);
      if (entry.level !== null && (cause === null || levelRank(entry.level) > levelRank(cause.level)))
        cause = { trackId, level: entry.level };
    }
    if (cause === null) return { expired, transition: null };
    const seconds = Math.round(this.#trackTtlMs / 1000);
    const message = `track ${cause.trackId} stopped counting: nothing was sent upstream for it for ${seconds} s`;
    return { expired, transition: this.#reevaluate(cause.trackId, message, "track_expired") };
  }

  /** When the next track with a level stops counting (for the alarm), or null. */
  nextExpiryMs(): number | null {
    let next: number | null = null;
    for (const entry of this.#tracks.values()) {
      if (entry.level === null) continue;
      const at = entry.lastActivityMs + this.#trackTtlMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** Tracks that still count at nowMs, with their levels (for the snapshot). */
  tracks(nowMs: number): TrackState[] {
    return this.#rows().filter((row) => nowMs - row.lastActivityMs < this.#trackTtlMs);
  }

  /** Tracks with a level, as they are persisted. */
  levelTracks(): TrackState[] {
    return this.#rows().filter((row) => row.level !== null);
  }

  #rows(): TrackState[] {
    return [...this.#tracks].map(([trackId, entry]) => ({
      trackId,
      level: entry.level,
      lastActivityMs: entry.lastActivityMs,
    }));
  }

  /**
   * Records activity. A track that had already expired starts afresh (its old level is stale and
   * does not come back), whether or not it was pruned yet. A clock stepping backwards never
   * shortens a track's life.
   */
  #touch(trackId: string, nowMs: number): TrackEntry {
    const entry = this.#tracks.get(trackId);
    if (entry === undefined || this.#isExpired(entry, nowMs)) {
      const created: TrackEntry = { level: null, lastActivityMs: nowMs };
      this.#tracks.set(trackId, created);
      return created;
    }
    entry.lastActivityMs = Math.max(entry.lastActivityMs, nowMs);
    return entry;
  }

  /** A track silent for trackTtlMs or longer no longer counts. */
  #isExpired(entry: TrackEntry, nowMs: number): boolean {
    return nowMs - entry.lastActivityMs >= this.#trackTtlMs;
  }

  #pruneExpired(nowMs: number): void {
    for (const [trackId, entry] of this.#tracks) {
      if (this.#isExpired(entry, nowMs)) this.#tracks.delete(trackId);
    }
  }

  /** Recomputes the level from the counting tracks; with none left, the level holds. */
  #reevaluate(trackId: string, message: string, reason: AlertReason): Transition | null {
    const previous = this.#level;
    const level = this.#mostSevere() ?? previous;
    if (level === previous) return null;
    this.#level = level;
    return { previous, level, trackId, message, reason };
  }

  /** Most severe level among tracks that have reported one, or null if none has. */
  #mostSevere(): Level | null {
    let best: Level | null = null;
    for (const { level } of this.#tracks.values()) {
      if (level !== null && (best === null || levelRank(level) > levelRank(best))) best = level;
    }
    return best;
  }
}
