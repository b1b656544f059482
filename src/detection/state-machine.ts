/**
 * A participant's detection state (DESIGN §4). Pure: no Workers or Node imports, no timers.
 *
 * - Each track (camera, microphone, ...) keeps the level of its latest result.
 * - The participant's level is the most severe level among tracks that still count
 *   (ALERT > SUSPICIOUS > CLEAR), so a camera in ALERT and a microphone reporting CLEAR
 *   do not make the participant flap.
 * - A track stops counting once it is closed, or once it has been silent (no frame sent and no
 *   level result) for `trackTtlMs`. Expiry is evaluated lazily (no timers). A track that comes back
 *   after that starts afresh, with no level until its next result.
 * - The participant's level only moves on a SUSPICIOUS/CLEAR/ALERT result, and the transition names
 *   that result's track. Closing or expiring a track never moves the level by itself: it takes
 *   effect at the next result.
 * - `initialLevel` (the persisted level after a restart) holds until the first result. Track levels
 *   are not persisted, so after a restart from ALERT, a first CLEAR from a fresh track moves the
 *   participant to CLEAR: that track is then the only one that counts, and it says clear. If the
 *   alerting track is still live it will report again and move the level back up.
 */

import { LEVELS, isLevel, levelRank, type Level, type ResultKind } from "../protocol/levels.js";

export { LEVELS, isLevel, levelRank, type Level, type ResultKind };

/** A change of the participant's level, caused by a result on `trackId`. */
export interface Transition {
  previous: Level;
  level: Level;
  trackId: string;
  message: string;
}

export type Outcome =
  | { kind: "transition"; transition: Transition }
  | { kind: "unchanged"; level: Level }
  | { kind: "error"; trackId: string; message: string }
  | { kind: "unknown"; trackId: string };

export interface DetectionStateOptions {
  /** Level before the first result: CLEAR, or the persisted level after a restart. */
  initialLevel: Level;
  /** Silence after which a track stops counting, in ms (120_000 in production). */
  trackTtlMs: number;
}

interface TrackEntry {
  /** Latest level reported for the track; null until its first level result. */
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
  }

  /** The participant's current level. */
  get level(): Level {
    return this.#level;
  }

  /** A frame for this track was sent upstream at nowMs (keeps the track counting). */
  touchTrack(trackId: string, nowMs: number): void {
    this.#touch(trackId, nowMs);
    this.#pruneExpired(nowMs); // keeps the map bounded even when no results arrive
  }

  /** The track was closed (its client left): it stops counting immediately. */
  closeTrack(trackId: string): void {
    this.#tracks.delete(trackId);
  }

  /**
   * Applies one upstream result at nowMs. SUSPICIOUS/CLEAR/ALERT set the track's level (and count as
   * activity), then the participant level is recomputed. ERROR and UNKNOWN change nothing.
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
        const previous = this.#level;
        const level = this.#mostSevere() ?? previous; // never null here: this track counts
        if (level === previous) return { kind: "unchanged", level };
        this.#level = level;
        return { kind: "transition", transition: { previous, level, trackId, message } };
      }
      default: {
        const unreachable: never = kind;
        throw new TypeError(`unknown result kind: ${String(unreachable)}`);
      }
    }
  }

  /** Snapshot of counted tracks and their levels (for the state API / debugging). */
  tracks(nowMs: number): Array<{ trackId: string; level: Level | null; lastActivityMs: number }> {
    const out: Array<{ trackId: string; level: Level | null; lastActivityMs: number }> = [];
    for (const [trackId, entry] of this.#tracks) {
      if (!this.#isExpired(entry, nowMs)) {
        out.push({ trackId, level: entry.level, lastActivityMs: entry.lastActivityMs });
      }
    }
    return out;
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

  /** Most severe level among counting tracks that have reported one, or null if none has. */
  #mostSevere(): Level | null {
    let best: Level | null = null;
    for (const { level } of this.#tracks.values()) {
      if (level !== null && (best === null || levelRank(level) > levelRank(best))) best = level;
    }
    return best;
  }
}
